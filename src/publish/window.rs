//! The run's dedup window: bridge ids seen recently, bounded in memory (oldest forgotten first).

use std::collections::{HashMap, VecDeque};

/// Remembers the last `capacity` bridge ids and where each was first seen.
#[derive(Debug)]
pub struct DedupWindow {
    capacity: usize,
    seen: HashMap<Key, String>,
    order: VecDeque<Key>,
}

/// A bridge id as a number when it is exactly the tool's form, 32 lowercase hex digits (no
/// allocation), else as its exact text: two different strings are never one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Hex(u128),
    Text(String),
}

impl Key {
    fn of(id: &str) -> Self {
        if is_bridge_id(id)
            && let Ok(number) = u128::from_str_radix(id, 16)
        {
            return Key::Hex(number);
        }
        Key::Text(id.to_owned())
    }
}

/// True when `id` has the form of the ids this tool makes: exactly 32 lowercase hex digits
/// (`u128::from_str_radix` alone would also take uppercase digits and a leading `+`).
pub(super) fn is_bridge_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
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
    fn ids_that_differ_only_in_case_or_by_a_plus_sign_are_different_events() {
        let mut window = DedupWindow::new(10);
        let lower = "abcdef0123456789abcdef0123456789";
        let upper = "ABCDEF0123456789ABCDEF0123456789";
        let plus = "+bcdef0123456789abcdef0123456789";
        let zero = "0bcdef0123456789abcdef0123456789";

        let seen: Vec<Option<String>> = [lower, upper, plus, zero]
            .iter()
            .enumerate()
            .map(|(n, id)| window.first_seen(id, &format!("file#{n}")))
            .collect();

        assert_eq!(seen, [None, None, None, None], "four different ids");
        assert!(is_bridge_id(lower) && is_bridge_id(zero));
        assert!(!is_bridge_id(upper) && !is_bridge_id(plus) && !is_bridge_id(""));
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
