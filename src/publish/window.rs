//! The run's dedup window: bridge ids seen recently, bounded in memory (oldest forgotten first).

use std::collections::{HashMap, VecDeque};

/// Remembers the last `capacity` bridge ids and where each was first seen.
#[derive(Debug)]
pub struct DedupWindow {
    capacity: usize,
    seen: HashMap<Key, String>,
    order: VecDeque<Key>,
}

/// A bridge id as a number when it is the tool's 32 hex digits (no allocation), else as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Hex(u128),
    Text(String),
}

impl Key {
    fn of(id: &str) -> Self {
        match u128::from_str_radix(id, 16) {
            Ok(number) if id.len() == 32 => Key::Hex(number),
            _ => Key::Text(id.to_owned()),
        }
    }
}

impl DedupWindow {
    /// A window of `capacity` ids (at least 1).
    pub fn new(capacity: usize) -> Self {
        DedupWindow {
            capacity: capacity.max(1),
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Where `id` was first seen, if it is in the window; otherwise remembers it as seen at `origin`.
    pub fn first_seen(&mut self, id: &str, origin: &str) -> Option<String> {
        let key = Key::of(id);
        if let Some(first) = self.seen.get(&key) {
            return Some(first.clone());
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        self.seen.insert(key.clone(), origin.to_owned());
        self.order.push_back(key);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_within_the_window_names_the_first_copy() {
        let mut window = DedupWindow::new(10);
        let id = "0b6aa40bc010be22282af1706f93947c";

        assert_eq!(window.first_seen(id, "file#1"), None);
        assert_eq!(window.first_seen(id, "file#2").as_deref(), Some("file#1"));
        assert_eq!(window.first_seen("not-hex", "file#3"), None);
        assert_eq!(
            window.first_seen("not-hex", "file#4").as_deref(),
            Some("file#3")
        );
    }

    #[test]
    fn the_window_forgets_the_oldest_id_when_full() {
        let mut window = DedupWindow::new(2);
        window.first_seen("a", "1");
        window.first_seen("b", "2");

        window.first_seen("c", "3");

        assert_eq!(window.first_seen("a", "4"), None, "a was forgotten");
        assert_eq!(window.first_seen("c", "5").as_deref(), Some("3"));
    }
}
