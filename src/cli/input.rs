//! Reading events from files, directories and stdin: one JSON value, a JSON array or JSON lines per file, streamed; errors name the file, line and column.

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
    #[error("{source_name}: line {line}, column {column}: not valid JSON")]
    /// An input is not JSON.
    Json {
        /// The file name, or `stdin`.
        source_name: String,
        /// Where the JSON stops making sense (1-based).
        line: usize,
        /// The column of that line (1-based).
        column: usize,
        #[source]
        /// What the JSON parser said.
        source: serde_json::Error,
    },
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

/// The events of one file (or `-`, stdin), streamed, each with its origin (`name#n`, 1-based).
pub struct EventReader {
    name: String,
    values: serde_json::StreamDeserializer<'static, serde_json::de::IoRead<Box<dyn Read>>, Value>,
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
        let file = std::fs::File::open(path).map_err(|source| InputError::Read {
            source_name: path.to_owned(),
            source,
        })?;
        Ok(Self::new(path, Box::new(BufReader::new(file))))
    }

    /// Reads events from `reader`, calling the input `name` in origins and errors.
    pub fn new(name: &str, reader: Box<dyn Read>) -> Self {
        EventReader {
            name: name.to_owned(),
            values: serde_json::Deserializer::from_reader(reader).into_iter(),
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
            Err(source) => {
                self.failed = true;
                Some(Err(if source.is_io() {
                    InputError::Read {
                        source_name: self.name.clone(),
                        source: source.into(),
                    }
                } else {
                    InputError::Json {
                        source_name: self.name.clone(),
                        line: source.line(),
                        column: source.column(),
                        source,
                    }
                }))
            }
        }
    }
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
                .starts_with("events.jsonl: line 2, column 8: not valid JSON"),
            "{err}"
        );
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
