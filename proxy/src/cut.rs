//! Where one message ends: the framing rules applied to the bytes waiting in a buffer.

use crate::Framing;

/// Messages larger than this are passed through as they arrive, without per-message
/// faults, so a peer announcing a huge frame cannot make the proxy buffer without bound.
pub(crate) const MAX_FRAME: usize = 16 << 20;

/// What the front of a buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// A whole message of this many bytes.
    Whole(usize),
    /// The start of a message; its total size when already known.
    Partial(Option<usize>),
    /// A message too big to buffer: this many bytes in all (length-prefixed framings), or
    /// everything up to and including the next newline (`None`, on `lines`).
    Oversize(Option<usize>),
}

/// Cuts messages off the front of a buffer, remembering how far an incomplete line was
/// already searched so a long line arriving in pieces is scanned once.
pub(crate) struct Cutter {
    framing: Framing,
    scanned: usize,
}

impl Cutter {
    pub fn new(framing: Framing) -> Cutter {
        Cutter {
            framing,
            scanned: 0,
        }
    }

    /// Looks at `buf`, which must start where a message starts.
    pub fn cut(&mut self, buf: &[u8]) -> Cut {
        match self.framing {
            Framing::Stream if buf.is_empty() => Cut::Partial(None),
            Framing::Stream => Cut::Whole(buf.len()),
            Framing::Len32 | Framing::Len32Json => {
                let Some(header) = buf.first_chunk::<4>() else {
                    return Cut::Partial(None);
                };
                let body = u32::from_be_bytes(*header) as usize;
                let total = body + 4;
                if body > MAX_FRAME {
                    Cut::Oversize(Some(total))
                } else if buf.len() >= total {
                    Cut::Whole(total)
                } else {
                    Cut::Partial(Some(total))
                }
            }
            Framing::Lines => {
                let from = self.scanned.min(buf.len());
                if let Some(i) = memchr::memchr(b'\n', &buf[from..]) {
                    self.scanned = 0;
                    if from + i > MAX_FRAME {
                        Cut::Oversize(None)
                    } else {
                        Cut::Whole(from + i + 1)
                    }
                } else if buf.len() > MAX_FRAME {
                    self.scanned = 0;
                    Cut::Oversize(None)
                } else {
                    self.scanned = buf.len();
                    Cut::Partial(None)
                }
            }
        }
    }
}

/// A message without its framing: the body after the length prefix, or the line without
/// its newline; a `stream` chunk is all payload.
pub(crate) fn payload(framing: Framing, frame: &[u8]) -> &[u8] {
    match framing {
        Framing::Len32Json | Framing::Len32 => frame.get(4..).unwrap_or_default(),
        Framing::Lines => frame.strip_suffix(b"\n").unwrap_or(frame),
        Framing::Stream => frame,
    }
}

/// A payload framed for the wire, the inverse of [`payload`].
pub(crate) fn frame(framing: Framing, payload: &[u8]) -> Vec<u8> {
    match framing {
        Framing::Len32Json | Framing::Len32 => {
            let mut out = Vec::with_capacity(payload.len() + 4);
            out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            out.extend_from_slice(payload);
            out
        }
        Framing::Lines => [payload, b"\n"].concat(),
        Framing::Stream => payload.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips() {
        for framing in [
            Framing::Len32Json,
            Framing::Len32,
            Framing::Lines,
            Framing::Stream,
        ] {
            assert_eq!(
                payload(framing, &super::frame(framing, b"{\"a\":1}")),
                b"{\"a\":1}"
            );
        }
        assert_eq!(super::frame(Framing::Len32, b"ab"), b"\0\0\0\x02ab");
    }

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = (body.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn len32_cuts_whole_partial_and_oversize() {
        let mut cutter = Cutter::new(Framing::Len32);
        let f = frame(b"hello");
        assert_eq!(cutter.cut(&f[..2]), Cut::Partial(None));
        assert_eq!(cutter.cut(&f[..6]), Cut::Partial(Some(9)));
        let mut two = f.clone();
        two.extend_from_slice(&f);
        assert_eq!(cutter.cut(&two), Cut::Whole(9));
        let huge = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert_eq!(cutter.cut(&huge), Cut::Oversize(Some(MAX_FRAME + 5)));
    }

    #[test]
    fn lines_resume_the_search_where_they_stopped() {
        let mut cutter = Cutter::new(Framing::Lines);
        assert_eq!(cutter.cut(b"abc"), Cut::Partial(None));
        assert_eq!(cutter.cut(b"abcdef"), Cut::Partial(None));
        assert_eq!(cutter.cut(b"abcdef\nxy"), Cut::Whole(7));
        assert_eq!(cutter.cut(b"xy\n"), Cut::Whole(3));
        let mut long = vec![b'z'; MAX_FRAME];
        long.push(b'\n');
        assert_eq!(cutter.cut(&long), Cut::Whole(MAX_FRAME + 1));
        long.insert(0, b'z');
        assert_eq!(
            cutter.cut(&long),
            Cut::Oversize(None),
            "one byte over, newline in sight"
        );
        long.pop();
        assert_eq!(
            cutter.cut(&long),
            Cut::Oversize(None),
            "one byte over, no newline yet"
        );
    }

    #[test]
    fn stream_takes_everything_there_is() {
        let mut cutter = Cutter::new(Framing::Stream);
        assert_eq!(cutter.cut(b""), Cut::Partial(None));
        assert_eq!(cutter.cut(b"abc"), Cut::Whole(3));
    }
}
