//! PMD capture files: the 24-byte magic `H10 ECG v1.0 binary data`, then records
//! `[u32 LE length][notification bytes]`, one per PMD data notification, in arrival order.

use crate::ParseError;

/// The file's first 24 bytes.
pub const MAGIC: &[u8; 24] = b"H10 ECG v1.0 binary data";

/// The records of a capture, each with its byte offset (of the length field) in the file.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    bytes: &'a [u8],
    pos: usize,
    failed: bool,
}

/// Check the magic and iterate over the records; a truncated record yields an error naming its
/// byte offset, after which iteration ends.
pub fn records(bytes: &[u8]) -> Result<Records<'_>, ParseError> {
    if bytes.len() < MAGIC.len() {
        return Err(ParseError::at_byte(
            bytes.len() as u64,
            format!("truncated magic: {} of {} bytes", bytes.len(), MAGIC.len()),
        ));
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(ParseError::at_byte(
            0,
            "not a PMD capture (magic \"H10 ECG v1.0 binary data\" missing)",
        ));
    }
    Ok(Records {
        bytes,
        pos: MAGIC.len(),
        failed: false,
    })
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<(u64, &'a [u8]), ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let at = self.pos;
        let rest = &self.bytes[at..];
        let Some(len) = rest.get(..4) else {
            self.failed = true;
            return Some(Err(ParseError::at_byte(
                at as u64,
                format!("truncated record length: {} of 4 bytes", rest.len()),
            )));
        };
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let Some(body) = rest.get(4..).and_then(|b| b.get(..len)) else {
            self.failed = true;
            return Some(Err(ParseError::at_byte(
                at as u64,
                format!(
                    "truncated record: length {len}, {} byte(s) left",
                    rest.len() - 4
                ),
            )));
        };
        self.pos = at + 4 + len;
        Some(Ok((at as u64, body)))
    }
}

/// Parse a whole capture into its records.
pub fn parse(bytes: &[u8]) -> Result<Vec<&[u8]>, ParseError> {
    records(bytes)?.map(|r| r.map(|(_, b)| b)).collect()
}

/// Writes a capture: the magic once, then one record per notification.
#[derive(Debug)]
pub struct CaptureWriter<W: std::io::Write> {
    out: W,
}

impl<W: std::io::Write> CaptureWriter<W> {
    /// Writes the magic.
    pub fn new(mut out: W) -> std::io::Result<Self> {
        out.write_all(MAGIC)?;
        Ok(Self { out })
    }

    /// Appends one notification.
    pub fn write_record(&mut self, notification: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(notification.len()).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "record over 4 GiB")
        })?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(notification)
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(records: &[&[u8]]) -> Vec<u8> {
        let mut w = CaptureWriter::new(Vec::new()).unwrap();
        for r in records {
            w.write_record(r).unwrap();
        }
        w.into_inner()
    }

    #[test]
    fn round_trip() {
        let bytes = capture(&[b"abc", b"", &[1, 2, 3, 4, 5]]);
        assert_eq!(&bytes[..24], MAGIC);
        assert_eq!(&bytes[24..28], &[3, 0, 0, 0]);
        let recs = parse(&bytes).unwrap();
        assert_eq!(recs, vec![&b"abc"[..], &b""[..], &[1, 2, 3, 4, 5][..]]);
        let offsets: Vec<u64> = records(&bytes).unwrap().map(|r| r.unwrap().0).collect();
        assert_eq!(offsets, vec![24, 31, 35]);
        assert!(parse(MAGIC).unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_offset() {
        assert_eq!(
            parse(b"H10").unwrap_err().at,
            crate::error::Location::Byte(3)
        );
        assert_eq!(
            parse(&[b'x'; 30]).unwrap_err().at,
            crate::error::Location::Byte(0)
        );
        let mut bytes = capture(&[b"abc", b"defg"]);
        bytes.truncate(bytes.len() - 1);
        let e = parse(&bytes).unwrap_err();
        assert_eq!(e.at, crate::error::Location::Byte(31));
        assert!(e.what.contains("length 4, 3 byte(s) left"), "{e}");
        bytes.truncate(33);
        assert_eq!(
            parse(&bytes).unwrap_err().at,
            crate::error::Location::Byte(31)
        );
        // iteration stops after the error
        let mut it = records(&bytes).unwrap();
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }
}
