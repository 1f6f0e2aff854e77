//! A minimal NumPy `.npy` (format 1.0) writer: little-endian, C order, u8 / i32 / i64 / f32.

use std::io::Write;
use std::path::Path;

/// An element type `.npy` can hold.
pub trait NpyElement: Copy {
    /// NumPy dtype string.
    const DESCR: &'static str;
    /// Appends the little-endian bytes of `self`.
    fn put(self, out: &mut Vec<u8>);
}

macro_rules! npy_element {
    ($t:ty, $d:literal) => {
        impl NpyElement for $t {
            const DESCR: &'static str = $d;
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}
npy_element!(u8, "|u1");
npy_element!(i32, "<i4");
npy_element!(i64, "<i8");
npy_element!(f32, "<f4");

/// The bytes of a `.npy` file holding `data` with `shape` (C order).
/// Errors when the shape does not match the data length.
pub fn to_npy<T: NpyElement>(data: &[T], shape: &[usize]) -> Result<Vec<u8>, String> {
    let n: usize = shape.iter().product();
    if n != data.len() {
        return Err(format!(
            "npy: shape {shape:?} holds {n} values, data has {}",
            data.len()
        ));
    }
    let dims = match shape {
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {dims}, }}",
        T::DESCR
    );
    // magic (6) + version (2) + length (2) + header, padded to a multiple of 64, ending in \n
    let total = (10 + header.len() + 1).div_ceil(64) * 64;
    while 10 + header.len() + 1 < total {
        header.push(' ');
    }
    header.push('\n');
    let hlen = u16::try_from(header.len()).map_err(|_| "npy: header too long".to_string())?;
    let mut out = Vec::with_capacity(total + data.len() * std::mem::size_of::<T>());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&hlen.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for &v in data {
        v.put(&mut out);
    }
    Ok(out)
}

/// Writes `data` with `shape` to `path` as `.npy`.
pub fn write_npy<T: NpyElement>(path: &Path, data: &[T], shape: &[usize]) -> Result<(), String> {
    let bytes = to_npy(data, shape)?;
    let mut f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(&bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_and_data() {
        let b = to_npy(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
        assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
        let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        let h = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
        assert!(h.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
        assert!(h.ends_with('\n'));
        assert_eq!(b.len(), 10 + hlen + 24);
        assert_eq!(&b[10 + hlen..10 + hlen + 4], &1.0f32.to_le_bytes());
        let b = to_npy(&[7i64], &[1]).unwrap();
        let h = String::from_utf8_lossy(&b[10..]).to_string();
        assert!(h.contains("'<i8'") && h.contains("(1,)"));
        assert!(to_npy(&[1u8, 2], &[3]).is_err());
        assert!(to_npy::<u8>(&[], &[0, 128, 128]).is_ok());
    }
}
