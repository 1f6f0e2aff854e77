//! Internal error types. The public (FFI) error lives in [`crate::ffi`] and is converted in one place.

use std::fmt;

/// Where a byte- or text-level parser stopped: enough for a person to open the file and look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Byte offset from the start of the file.
    Byte(u64),
    /// 1-based line number of a text file.
    Line(usize),
    /// A named part of the file (e.g. "header", "signal 2").
    Part(String),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Byte(b) => write!(f, "byte {b}"),
            Location::Line(l) => write!(f, "line {l}"),
            Location::Part(p) => f.write_str(p),
        }
    }
}

/// A malformed input found by a pure parser (which does not know the file name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {what}")]
pub struct ParseError {
    pub at: Location,
    pub what: String,
}

impl ParseError {
    pub fn new(at: Location, what: impl Into<String>) -> Self {
        Self {
            at,
            what: what.into(),
        }
    }
    pub fn at_byte(offset: u64, what: impl Into<String>) -> Self {
        Self::new(Location::Byte(offset), what)
    }
    pub fn at_line(line: usize, what: impl Into<String>) -> Self {
        Self::new(Location::Line(line), what)
    }
    pub fn in_part(part: impl Into<String>, what: impl Into<String>) -> Self {
        Self::new(Location::Part(part.into()), what)
    }
}

/// The core's internal error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A file was read but its content is truncated, corrupt or inconsistent.
    #[error("{file}: {source}")]
    Format { file: String, source: ParseError },
    /// The file's format is not one we read.
    #[error("{file}: unsupported: {what}")]
    Unsupported { file: String, what: String },
    /// A file that needs an option the caller did not give, or refuses one given (a CSV's
    /// sampling rate or unit).
    #[error("{file}: {what}")]
    FileOption { file: String, what: String },
    /// A caller asked for something impossible (bad channel, empty time range, rate out of range…).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The signal exists but holds too little usable ECG for the requested analysis.
    #[error("not enough usable signal: {0}")]
    InsufficientSignal(String),
    /// The history database failed (full disk, read-only, corrupt file, newer schema…). What was
    /// committed before stays in the database.
    #[error("history storage ({kind}): {message}")]
    Storage {
        /// What kind of failure, for the caller to decide (free space, reopen, reset).
        kind: StorageErrorKind,
        /// SQLite's message; never contains stored values (all values are bound parameters).
        message: String,
    },
    /// A model file is damaged or does not match what the core computes, or tract failed.
    #[error("model: {0}")]
    Model(#[from] crate::model::ModelError),
}

/// Kinds of history-database failure (see [`Error::Storage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageErrorKind {
    /// The disk (or the configured size cap) is full.
    Full,
    /// The database was opened read-only or the file is not writable.
    ReadOnly,
    /// The file is not a database or is damaged.
    Corrupt,
    /// Another connection held a lock for longer than the busy timeout.
    Busy,
    /// The database was written by a newer StressBeat (schema version unknown to this build).
    NewerSchema,
    /// The database file could not be opened (missing folder, permissions, a directory).
    CannotOpen,
    /// Opened read-only, the file holds no StressBeat history (an empty file, or another
    /// program's database).
    NotAHistory,
    /// Another monitor (in this process or another) has the history open for writing.
    InUse,
    /// Any other SQLite failure.
    Other,
}

impl fmt::Display for StorageErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full => "full",
            Self::ReadOnly => "read-only",
            Self::Corrupt => "corrupt",
            Self::Busy => "busy",
            Self::NewerSchema => "newer schema",
            Self::CannotOpen => "cannot open",
            Self::NotAHistory => "not a history",
            Self::InUse => "in use by another monitor",
            Self::Other => "other",
        })
    }
}

impl Error {
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
    pub fn format(file: impl AsRef<std::path::Path>, source: ParseError) -> Self {
        Error::Format {
            file: file.as_ref().display().to_string(),
            source,
        }
    }
}

impl Error {
    /// This error for logs: no file path or file name (either may contain a person's name).
    pub fn log_safe(&self) -> String {
        match self {
            Error::Io { source, .. } => format!("file: {}", source.kind()),
            Error::Format { source, .. } => format!("file: {source}"),
            Error::Unsupported { what, .. } => format!("file: unsupported: {what}"),
            Error::FileOption { what, .. } => format!("file: {what}"),
            Error::Model(crate::model::ModelError::MissingMetadata { .. }) => {
                "model: no model metadata beside the model file".into()
            }
            // SQLite names the database file in some messages ("unable to open database file:
            // /home/…/history.sqlite")
            Error::Storage { .. } => without_paths(&self.to_string()),
            other => other.to_string(),
        }
    }
}

/// `text` with every word that holds a path separator replaced by `<path>`.
fn without_paths(text: &str) -> String {
    text.split(' ')
        .map(|w| if w.contains(['/', '\\']) { "<path>" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_safe_text_names_no_file() {
        let secret = "/home/jane.doe/ecg/jane_doe_2026.edf";
        let errors = [
            Error::io(secret, std::io::Error::from(std::io::ErrorKind::NotFound)),
            Error::format(secret, ParseError::at_byte(7, "truncated data record")),
            Error::Unsupported {
                file: secret.into(),
                what: "no known signature".into(),
            },
            Error::Model(crate::model::ModelError::MissingMetadata {
                path: secret.into(),
            }),
            Error::FileOption {
                file: secret.into(),
                what: "no sampling rate: the file has no time column; pass --fs HZ".into(),
            },
        ];
        for e in &errors {
            assert!(e.to_string().contains("jane"), "{e}");
            let logged = e.log_safe();
            assert!(!logged.contains("jane"), "{logged}");
        }
        assert_eq!(errors[0].log_safe(), "file: entity not found");
        let storage = Error::Storage {
            kind: StorageErrorKind::CannotOpen,
            message: "unable to open database file: /home/jane doe/h.db".into(),
        };
        assert!(storage.to_string().contains("jane"));
        assert!(
            !storage.log_safe().contains("jane"),
            "{}",
            storage.log_safe()
        );
        assert!(storage.log_safe().contains("unable to open database file"));
        assert_eq!(errors[1].log_safe(), "file: byte 7: truncated data record");
    }
}
