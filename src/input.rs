//! Reading events from files, directories and stdin: one JSON value, a JSON array or JSON lines per file, streamed; errors name the file, line and column. Only regular files (and stdin) are read; the check pass parses exactly as the read does.

use serde_json::Value;
use std::io::{BufReader, Read};
use std::path::Path;

/// An events file that cannot be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{source_name}: cannot read")]
    /// An input could not be read.
    Read {
        /// The file name, or `stdin`.
        source_name: String,
        #[source]
        /// Why it could not be read.
        source: std::io::Error,
    },
    #[error("{source_name}: line {line}, column {column}: not valid JSON: {reason}")]
    /// An input is not JSON (or JSON no event can hold: invalid UTF-8, a lone surrogate, a
    /// number out of range, nesting deeper than 128).
    Json {
        /// The file name, or `stdin`.
        source_name: String,
        /// Where the JSON stops making sense (1-based), in the whole input.
        line: usize,
        /// The column of that line (1-based).
        column: usize,
        /// What the JSON parser said, without its own position (which counts from the start of
        /// the value it was reading, not of the input).
        reason: String,
    },
    #[error(
        "{0}: not a regular file (a device, pipe or socket is not read as a file); pipe it into stdin and give `-`"
    )]
    /// An input path is a device, a pipe, a socket: it could be endless (`/dev/zero`) and cannot
    /// be read twice.
    NotAFile(String),
    #[error("{0}: no *.json files in this directory")]
    /// A directory given as input holds no events file.
    EmptyDirectory(String),
}

/// The files to read, in order: `-` (stdin) and files as given, each directory's `*.json`
/// files in name order.
pub fn expand_paths(paths: &[String]) -> Result<Vec<String>, InputError> {
    let mut files = Vec::new();
    for path in paths {
        if path == "-" || !Path::new(path).is_dir() {
            files.push(path.clone());
            continue;
        }
        let read_error = |source| InputError::Read {
            source_name: path.clone(),
            source,
        };
        let mut found: Vec<String> = std::fs::read_dir(path)
            .map_err(read_error)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|file| file.is_file() && file.extension().is_some_and(|ext| ext == "json"))
            .map(|file| file.to_string_lossy().into_owned())
            .collect();
        if found.is_empty() {
            return Err(InputError::EmptyDirectory(path.clone()));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// Files up to this size are read whole and parsed from memory (several times faster than
/// through a reader); larger ones and stdin are streamed.
const READ_WHOLE_UP_TO: u64 = 256 << 20;

/// Where the values of an input come from.
enum Values {
    Stream(serde_json::StreamDeserializer<'static, serde_json::de::IoRead<Box<dyn Read>>, Value>),
    Memory { bytes: Vec<u8>, offset: usize },
}

impl Values {
    fn next(&mut self) -> Option<Result<Value, InputErrorAt>> {
        match self {
            Values::Stream(values) => values.next().map(|value| value.map_err(InputErrorAt::from)),
            Values::Memory { bytes, offset } => {
                let mut values =
                    serde_json::Deserializer::from_slice(&bytes[*offset..]).into_iter::<Value>();
                let value = values.next()?;
                let start = *offset;
                *offset += values.byte_offset();
                Some(value.map_err(|error| InputErrorAt::within(error, &bytes[..start])))
            }
        }
    }
}

/// A parse error with its position in the whole input.
struct InputErrorAt {
    error: serde_json::Error,
    line: usize,
    column: usize,
}

impl From<serde_json::Error> for InputErrorAt {
    fn from(error: serde_json::Error) -> Self {
        InputErrorAt {
            line: error.line(),
            column: error.column(),
            error,
        }
    }
}

impl InputErrorAt {
    /// `error`, met while parsing the bytes after `before`.
    fn within(error: serde_json::Error, before: &[u8]) -> Self {
        let lines_before = before.iter().filter(|&&b| b == b'\n').count();
        let column_before = before.iter().rev().take_while(|&&b| b != b'\n').count();
        let (line, column) = if error.line() == 1 {
            (lines_before + 1, column_before + error.column())
        } else {
            (lines_before + error.line(), error.column())
        };
        InputErrorAt {
            error,
            line,
            column,
        }
    }
}

/// The events of one file (or `-`, stdin), each with its origin (`name#n`, 1-based).
pub struct EventReader {
    name: String,
    values: Values,
    array: std::vec::IntoIter<Value>,
    count: usize,
    failed: bool,
}

impl EventReader {
    /// Opens `path` (`-` is stdin).
    pub fn open(path: &str) -> Result<Self, InputError> {
        if path == "-" {
            return Ok(Self::new(
                "stdin",
                Box::new(BufReader::new(std::io::stdin())),
            ));
        }
        let read_error = |source| InputError::Read {
            source_name: path.to_owned(),
            source,
        };
        // Checked before opening: opening a FIFO would wait for a writer.
        if !std::fs::metadata(path).map_err(read_error)?.is_file() {
            return Err(InputError::NotAFile(path.to_owned()));
        }
        let file = std::fs::File::open(path).map_err(read_error)?;
        if file.metadata().map_err(read_error)?.len() <= READ_WHOLE_UP_TO {
            let bytes = std::fs::read(path).map_err(read_error)?;
            return Ok(Self::with_values(path, Values::Memory { bytes, offset: 0 }));
        }
        Ok(Self::new(path, Box::new(BufReader::new(file))))
    }

    /// Reads events from `reader`, calling the input `name` in origins and errors.
    pub fn new(name: &str, reader: Box<dyn Read>) -> Self {
        Self::with_values(
            name,
            Values::Stream(serde_json::Deserializer::from_reader(reader).into_iter()),
        )
    }

    fn with_values(name: &str, values: Values) -> Self {
        EventReader {
            name: name.to_owned(),
            values,
            array: Vec::new().into_iter(),
            count: 0,
            failed: false,
        }
    }

    fn origin(&mut self, value: Value) -> (String, Value) {
        self.count += 1;
        (format!("{}#{}", self.name, self.count), value)
    }
}

impl Iterator for EventReader {
    type Item = Result<(String, Value), InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(value) = self.array.next() {
            return Some(Ok(self.origin(value)));
        }
        if self.failed {
            return None;
        }
        match self.values.next()? {
            Ok(Value::Array(items)) => {
                self.array = items.into_iter();
                self.next()
            }
            Ok(value) => Some(Ok(self.origin(value))),
            Err(at) => {
                self.failed = true;
                Some(Err(if at.error.is_io() {
                    InputError::Read {
                        source_name: self.name.clone(),
                        source: at.error.into(),
                    }
                } else {
                    InputError::Json {
                        source_name: self.name.clone(),
                        line: at.line,
                        column: at.column,
                        reason: without_position(&at.error),
                    }
                }))
            }
        }
    }
}

/// serde_json's message without the " at line L column C" it appends.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

/// Checks that the file at `path` is readable events throughout, without keeping them: it is
/// read exactly as [`EventReader`] reads it (into `serde_json::Value`, so the same string,
/// number and depth rules), and a problem names the same file, line and column. Returns how many
/// events it holds (the items of a top-level array each count).
pub fn count_events(path: &str) -> Result<usize, InputError> {
    let mut count = 0;
    for event in EventReader::open(path)? {
        event?;
        count += 1;
    }
    Ok(count)
}

/// Reads all the events of one source: `-` is stdin, anything else a file path.
pub fn read_events(path: &str) -> Result<Vec<Value>, InputError> {
    EventReader::open(path)?
        .map(|event| event.map(|(_, value)| value))
        .collect()
}

/// Parses one event, a JSON array of events, or JSON lines (one event per line).
pub fn parse_events(text: &str, source_name: &str) -> Result<Vec<Value>, InputError> {
    let bytes: Box<dyn Read> = Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
    EventReader::new(source_name, bytes)
        .map(|event| event.map(|(_, value)| value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_is_read() {
        let events = parse_events(r#"{"id": "a"}"#, "x").unwrap();
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn an_array_of_events_is_read_in_order() {
        let events = parse_events(r#"[{"id": "a"}, {"id": "b"}]"#, "x").unwrap();
        assert_eq!(events[0]["id"], "a");
        assert_eq!(events[1]["id"], "b");
    }

    #[test]
    fn json_lines_are_read_in_order_each_with_its_origin() {
        let text = "{\"id\": \"a\"}\n\n{\"id\": \"b\"}\n";
        let reader = EventReader::new("f.jsonl", Box::new(std::io::Cursor::new(text)));

        let events: Vec<_> = reader.map(Result::unwrap).collect();

        assert_eq!(events.len(), 2);
        assert_eq!(events[1].0, "f.jsonl#2");
        assert_eq!(events[1].1["id"], "b");
    }

    #[test]
    fn a_syntax_error_names_the_source_and_position() {
        let err = parse_events("{\"id\": \"a\"}\n{\"id\": }", "events.jsonl").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("events.jsonl: line 2, column 8: not valid JSON: expected value"),
            "{err}"
        );
    }

    #[test]
    fn counting_a_file_counts_array_items_and_lines_and_names_a_syntax_error() {
        let path = std::env::temp_dir().join(format!("count-{:x}.json", fastrand::u64(..)));
        std::fs::write(&path, "[{\"a\": 1}, 2]\n{\"b\": [1, 2]}\n\"x\"").unwrap();
        let name = path.to_string_lossy().into_owned();

        assert_eq!(count_events(&name).unwrap(), 4);

        std::fs::write(&path, "{}\n{\"b\": }").unwrap();
        let error = count_events(&name).unwrap_err().to_string();
        assert!(
            error.contains("line 2, column 7: not valid JSON"),
            "{error}"
        );
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_syntax_error_in_a_file_read_whole_names_its_line_and_column_in_the_file() {
        let path = std::env::temp_dir().join(format!("whole-{:x}.json", fastrand::u64(..)));
        std::fs::write(&path, "{\"a\": 1}\n{\"b\": 2} {\"c\": }").unwrap();
        let name = path.to_string_lossy().into_owned();

        let error = read_events(&name).unwrap_err().to_string();

        assert!(
            error.ends_with("line 2, column 16: not valid JSON: expected value"),
            "{error}"
        );
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn the_check_pass_refuses_what_the_read_refuses_at_the_same_line_and_column() {
        let path = std::env::temp_dir().join(format!("strict-{:x}.jsonl", fastrand::u64(..)));
        let name = path.to_string_lossy().into_owned();
        let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
        let bad_lines: [&[u8]; 4] = [
            b"{\"s\": \"\xff\xfe\"}",
            b"{\"s\": \"\\ud800\"}",
            b"{\"n\": 1e400}",
            deep.as_bytes(),
        ];
        for bad in bad_lines {
            let mut bytes = b"{\"a\": 1}\n{\"b\": 2}\n".to_vec();
            bytes.extend_from_slice(bad);
            bytes.extend_from_slice(b"\n{\"c\": 3}\n");
            std::fs::write(&path, &bytes).unwrap();

            let checked = count_events(&name).unwrap_err().to_string();
            let read = read_events(&name).unwrap_err().to_string();

            assert_eq!(checked, read);
            assert!(checked.contains(": line 3, column "), "{checked}");
            assert!(
                !checked.contains(" at line "),
                "one position only: {checked}"
            );
        }
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_device_is_refused_before_it_is_read() {
        let error = count_events("/dev/zero").unwrap_err();

        assert!(matches!(error, InputError::NotAFile(_)), "{error}");
        assert!(error.to_string().contains("`-`"), "{error}");
    }

    #[test]
    fn an_empty_file_has_no_events() {
        assert!(parse_events("  \n", "x").unwrap().is_empty());
    }

    #[test]
    fn a_directory_is_its_json_files_in_name_order() {
        let dir = std::env::temp_dir().join(format!("input-{:x}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["b.json", "a.json", "notes.txt"] {
            std::fs::write(dir.join(name), "{}").unwrap();
        }

        let files = expand_paths(&[dir.to_string_lossy().into_owned()]).unwrap();

        let names: Vec<_> = files
            .iter()
            .map(|f| f.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(names, ["a.json", "b.json"]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
