//! PutEvents limits: an entry's size as AWS computes it, and requests of at most 10 entries and at most the byte limit, in input order.

use super::transform::Entry;

/// Entries per PutEvents request.
pub const MAX_ENTRIES_PER_REQUEST: usize = 10;
/// The default limit of an entry and of a request (AWS's default; some accounts have 1 MiB).
pub const DEFAULT_MAX_BYTES: usize = 262_144;
/// The longest `DetailType` EventBridge accepts.
pub(super) const MAX_DETAIL_TYPE_LEN: usize = 128;

/// An entry's size as AWS computes it: 14 bytes for `Time` (when set) plus the UTF-8 bytes of
/// `Source`, `DetailType`, `Detail` (and of each `Resources` item; this tool sends none).
pub fn entry_size(entry: &Entry) -> usize {
    let time = if entry.time.is_some() { 14 } else { 0 };
    time + entry.source.len() + entry.detail_type.len() + entry.detail.len()
}

/// Why an entry is not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Over the byte limit.
    #[error("the entry is {size} bytes, over the limit of {max_bytes} (--max-entry-bytes)")]
    TooLarge {
        /// Its size, as AWS counts it.
        size: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// A `DetailType` empty or over 128 bytes.
    #[error("the detail-type is {0} bytes; EventBridge takes 1 to {MAX_DETAIL_TYPE_LEN}")]
    DetailTypeLength(usize),
    /// A `DetailType` holding a control character.
    #[error(
        "the detail-type holds the control character U+{:04X}; EventBridge takes printable text only",
        u32::from(*.0)
    )]
    DetailTypeControl(char),
}

/// Why an entry is not sent: over the byte limit, a `DetailType` empty, over 128 bytes or
/// holding a control character (NUL included).
pub fn check_entry(entry: &Entry, max_bytes: usize) -> Result<(), EntryError> {
    let size = entry_size(entry);
    if size > max_bytes {
        return Err(EntryError::TooLarge { size, max_bytes });
    }
    if entry.detail_type.is_empty() || entry.detail_type.len() > MAX_DETAIL_TYPE_LEN {
        return Err(EntryError::DetailTypeLength(entry.detail_type.len()));
    }
    if let Some(control) = entry.detail_type.chars().find(|c| c.is_control()) {
        return Err(EntryError::DetailTypeControl(control));
    }
    Ok(())
}

/// Splits `entries` (each within `max_bytes`) into requests, in order: at most 10 entries and at
/// most `max_bytes` in all per request. Returns the indexes of each request's entries.
pub fn batches(entries: &[Entry], max_bytes: usize) -> Vec<Vec<usize>> {
    let mut requests: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut bytes = 0;
    for (index, entry) in entries.iter().enumerate() {
        let size = entry_size(entry);
        if !current.is_empty()
            && (current.len() == MAX_ENTRIES_PER_REQUEST || bytes + size > max_bytes)
        {
            requests.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push(index);
        bytes += size;
    }
    if !current.is_empty() {
        requests.push(current);
    }
    requests
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(detail_bytes: usize, time: bool) -> Entry {
        Entry {
            source: "s".into(),
            detail_type: "d".into(),
            detail: "x".repeat(detail_bytes),
            time: time.then(|| "2026-01-01T00:00:00Z".into()),
            bridge_event_id: String::new(),
        }
    }

    #[test]
    fn the_size_counts_time_as_14_bytes_and_the_rest_in_utf8() {
        let mut with_accent = entry(0, true);
        with_accent.detail = "é".into();
        assert_eq!(entry_size(&entry(10, true)), 14 + 1 + 1 + 10);
        assert_eq!(entry_size(&entry(10, false)), 12);
        assert_eq!(entry_size(&with_accent), 14 + 1 + 1 + 2);
    }

    #[test]
    fn an_entry_at_the_exact_limit_passes_and_one_byte_over_is_refused() {
        let at_limit = entry(DEFAULT_MAX_BYTES - 16, true);
        let over = entry(DEFAULT_MAX_BYTES - 15, true);
        assert_eq!(entry_size(&at_limit), DEFAULT_MAX_BYTES);
        assert!(check_entry(&at_limit, DEFAULT_MAX_BYTES).is_ok());
        let problem = check_entry(&over, DEFAULT_MAX_BYTES)
            .unwrap_err()
            .to_string();
        assert!(problem.contains("262145 bytes"), "{problem}");
    }

    #[test]
    fn a_detail_type_with_a_control_character_or_nul_is_refused_naming_it() {
        let mut with_nul = entry(10, false);
        with_nul.detail_type = "v2.users.\u{0}.presence".into();
        let mut with_newline = entry(10, false);
        with_newline.detail_type = "line\nbreak".into();
        let mut accented = entry(10, false);
        accented.detail_type = "événement".into();

        let nul = check_entry(&with_nul, DEFAULT_MAX_BYTES)
            .unwrap_err()
            .to_string();
        let newline = check_entry(&with_newline, DEFAULT_MAX_BYTES)
            .unwrap_err()
            .to_string();

        assert!(nul.contains("U+0000"), "{nul}");
        assert!(newline.contains("U+000A"), "{newline}");
        assert!(check_entry(&accented, DEFAULT_MAX_BYTES).is_ok());
    }

    #[test]
    fn requests_hold_at_most_ten_entries_in_order() {
        let entries: Vec<Entry> = (0..23).map(|_| entry(10, false)).collect();

        let requests = batches(&entries, DEFAULT_MAX_BYTES);

        let sizes: Vec<usize> = requests.iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 3]);
        assert_eq!(requests.concat(), (0..23).collect::<Vec<_>>());
    }

    #[test]
    fn requests_stay_within_the_byte_limit() {
        let entries: Vec<Entry> = (0..5).map(|_| entry(100_000, false)).collect();

        let requests = batches(&entries, DEFAULT_MAX_BYTES);

        for request in &requests {
            let bytes: usize = request.iter().map(|&i| entry_size(&entries[i])).sum();
            assert!(bytes <= DEFAULT_MAX_BYTES, "{bytes}");
        }
        assert_eq!(requests.len(), 3);
    }
}
