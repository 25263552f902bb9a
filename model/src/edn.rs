//! Jepsen's `history.edn`: one EDN map per line, turned into traitor events.
//!
//! Keywords become strings (`:write` -> `"write"`), vectors, lists and sets become arrays,
//! tagged elements (Jepsen writes `#jepsen.history.Op{...}`) are read as their value.
//! Ops of non-client processes (`:process :nemesis`) are not client history and are skipped.

use crate::history::{Event, EventKind};
use edn_format::Value as Edn;
use serde_json::{Map, Number, Value};

/// Values nested deeper than this are refused: the EDN parser recurses once per level, and
/// no Jepsen history nests more than a few levels.
pub const MAX_DEPTH: usize = 128;

/// Number tokens longer than this are refused: big integers (`...N`) and decimals (`...M`)
/// are parsed in time quadratic in their length.
pub const MAX_NUMBER_CHARS: usize = 4096;

/// Converts one EDN line. `Ok(None)` for lines that are not client operations.
pub fn event_from_edn(line: &str) -> Result<Option<Event>, String> {
    check_shape(line)?;
    let parsed = edn_format::parse_str(line).map_err(|e| format!("invalid EDN {e}"))?;
    let map = match unwrap_tags(&parsed) {
        Edn::Map(map) => map,
        other => {
            return Err(format!(
                "expected a map like {{:type :invoke ...}}, found {}",
                kind_name(other)
            ))
        }
    };
    let field = |name: &str| map.get(&Edn::from(edn_format::Keyword::from_name(name)));

    let process = match field("process").map(unwrap_tags) {
        Some(Edn::Integer(p)) if *p >= 0 => *p as u64,
        Some(Edn::Integer(p)) => {
            return Err(format!(
                ":process must be a non-negative integer, found {p}"
            ))
        }
        // Jepsen's nemesis and other named processes are not clients.
        Some(Edn::Keyword(_)) | Some(Edn::Symbol(_)) | Some(Edn::String(_)) => return Ok(None),
        Some(other) => {
            return Err(format!(
                ":process must be an integer, found {}",
                kind_name(other)
            ))
        }
        None => return Err("missing :process".into()),
    };
    let kind = match field("type").map(to_json) {
        Some(Value::String(name)) => EventKind::from_name(&name)
            .ok_or_else(|| format!(":type must be :invoke, :ok, :fail or :info, found :{name}"))?,
        Some(other) => return Err(format!(":type must be a keyword, found {other}")),
        None => return Err("missing :type".into()),
    };
    let f = match field("f").map(to_json) {
        Some(Value::String(f)) => f,
        Some(other) => return Err(format!(":f must be a keyword or string, found {other}")),
        None => return Err("missing :f".into()),
    };
    let mut event = Event::new(
        process,
        kind,
        &f,
        field("value").map(to_json).unwrap_or(Value::Null),
    );
    event.index = non_negative(field("index"), "index")?;
    event.time = non_negative(field("time"), "time")?;
    event.key = field("key").map(to_json);
    event.error = field("error").map(to_json);
    event.node = non_negative(field("node"), "node")?
        .map(|n| u32::try_from(n).map_err(|_| format!(":node {n} is out of range")))
        .transpose()?;
    Ok(Some(event))
}

/// Refuses, before the parser sees it, a line nested deeper than [`MAX_DEPTH`] (collections
/// and tags both count: `#a #b 1` is two levels) or with a number token longer than
/// [`MAX_NUMBER_CHARS`]. Anything else malformed is left to the parser to name.
fn check_shape(line: &str) -> Result<(), String> {
    // Tags waiting for their value, per open collection: a tag nests the value after it.
    let mut pending: Vec<usize> = vec![0];
    let mut depth = 0usize;
    let mut bytes = line.bytes().peekable();
    // The value just read completes the tags waiting at its level.
    let value_done = |pending: &mut Vec<usize>, depth: &mut usize| {
        if let Some(tags) = pending.last_mut() {
            *depth -= std::mem::take(tags);
        }
    };
    while let Some(b) = bytes.next() {
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => continue,
            b';' => break,
            b'[' | b'(' | b'{' => {
                depth += 1;
                pending.push(0);
            }
            b'#' if bytes.peek() == Some(&b'{') => {
                bytes.next();
                depth += 1;
                pending.push(0);
            }
            b'#' => {
                // A tag (`#inst`, `#jepsen.history.Op`) or a discard (`#_`): its symbol is
                // read with the `#`, and what follows is nested in it.
                while bytes
                    .next_if(|c| !c.is_ascii_whitespace() && !b"[](){}\",;".contains(c))
                    .is_some()
                {}
                depth += 1;
                if let Some(tags) = pending.last_mut() {
                    *tags += 1;
                }
            }
            b']' | b')' | b'}' => {
                if pending.len() > 1 {
                    depth -= 1 + pending.pop().unwrap_or(0);
                }
                value_done(&mut pending, &mut depth);
            }
            b'"' => {
                while let Some(c) = bytes.next() {
                    match c {
                        b'\\' => {
                            bytes.next();
                        }
                        b'"' => break,
                        _ => {}
                    }
                }
                value_done(&mut pending, &mut depth);
            }
            first => {
                // An atom: a number, keyword, symbol or character, up to the next delimiter.
                let mut len = 1;
                if first == b'\\' {
                    bytes.next();
                    len += 1;
                }
                while bytes
                    .next_if(|c| !c.is_ascii_whitespace() && !b"[](){}\",;".contains(c))
                    .is_some()
                {
                    len += 1;
                }
                let numeric = first.is_ascii_digit() || b"+-".contains(&first);
                if numeric && len > MAX_NUMBER_CHARS {
                    return Err(format!(
                        "a number of {len} characters; at most {MAX_NUMBER_CHARS} are read"
                    ));
                }
                value_done(&mut pending, &mut depth);
            }
        }
        if depth > MAX_DEPTH {
            return Err(format!(
                "values nested more than {MAX_DEPTH} deep (collections and tags); a history event nests a few levels"
            ));
        }
    }
    Ok(())
}

fn non_negative(value: Option<&Edn>, name: &str) -> Result<Option<u64>, String> {
    match value.map(unwrap_tags) {
        None | Some(Edn::Nil) => Ok(None),
        Some(Edn::Integer(v)) if *v >= 0 => Ok(Some(*v as u64)),
        Some(other) => Err(format!(
            ":{name} must be a non-negative integer, found {}",
            to_json(other)
        )),
    }
}

fn unwrap_tags(value: &Edn) -> &Edn {
    match value {
        Edn::TaggedElement(_, inner) => unwrap_tags(inner),
        other => other,
    }
}

fn kind_name(value: &Edn) -> &'static str {
    match value {
        Edn::Nil => "nil",
        Edn::Boolean(_) => "a boolean",
        Edn::Character(_) | Edn::String(_) => "a string",
        Edn::Symbol(_) => "a symbol",
        Edn::Keyword(_) => "a keyword",
        Edn::Integer(_) | Edn::BigInt(_) | Edn::Float(_) | Edn::BigDec(_) => "a number",
        Edn::List(_) | Edn::Vector(_) => "a sequence",
        Edn::Map(_) => "a map",
        Edn::Set(_) => "a set",
        Edn::Inst(_) | Edn::Uuid(_) | Edn::TaggedElement(..) => "a tagged value",
    }
}

/// EDN value to JSON, keeping what the checkers compare (numbers, strings, sequences).
pub fn to_json(value: &Edn) -> Value {
    match value {
        Edn::Nil => Value::Null,
        Edn::Boolean(b) => Value::Bool(*b),
        Edn::Character(c) => Value::String(c.to_string()),
        Edn::String(s) => Value::String(s.clone()),
        Edn::Symbol(s) => Value::String(qualified(s.namespace(), s.name())),
        Edn::Keyword(k) => Value::String(qualified(k.namespace(), k.name())),
        Edn::Integer(i) => Value::Number((*i).into()),
        Edn::Float(x) => Number::from_f64(x.into_inner()).map_or(Value::Null, Value::Number),
        Edn::BigInt(b) => Value::String(b.to_string()),
        Edn::BigDec(d) => Value::String(d.to_string()),
        Edn::List(items) | Edn::Vector(items) => Value::Array(items.iter().map(to_json).collect()),
        Edn::Set(items) => Value::Array(items.iter().map(to_json).collect()),
        Edn::Map(entries) => {
            let mut object = Map::new();
            for (k, v) in entries {
                let key = match to_json(k) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                object.insert(key, to_json(v));
            }
            Value::Object(object)
        }
        Edn::Inst(t) => Value::String(t.to_rfc3339()),
        Edn::Uuid(u) => Value::String(u.to_string()),
        Edn::TaggedElement(_, inner) => to_json(inner),
    }
}

fn qualified(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_jepsen_line() {
        let e =
            event_from_edn("{:type :ok, :f :cas, :value [3 4], :process 2, :time 17, :index 5}")
                .unwrap()
                .unwrap();
        assert_eq!(e.kind, EventKind::Ok);
        assert_eq!(e.f, "cas");
        assert_eq!(e.value, json!([3, 4]));
        assert_eq!((e.process, e.time, e.index), (2, Some(17), Some(5)));
    }

    #[test]
    fn reads_tagged_records_and_sets() {
        let e =
            event_from_edn("#jepsen.history.Op{:type :ok, :f :read, :value #{1 2}, :process 0}")
                .unwrap()
                .unwrap();
        assert_eq!(e.value, json!([1, 2]));
    }

    #[test]
    fn skips_the_nemesis() {
        assert_eq!(
            event_from_edn("{:type :info, :f :start, :process :nemesis}").unwrap(),
            None
        );
    }

    #[test]
    fn deep_nesting_is_refused_before_the_parser_recurses() {
        let deep = |open: &str, close: &str, depth: usize| {
            format!(
                "{{:type :invoke, :f :write, :value {}1{}, :process 0}}",
                open.repeat(depth),
                close.repeat(depth)
            )
        };
        for (open, close) in [
            ("[", "]"),
            ("(", ")"),
            ("{:a ", "}"),
            ("#{", "}"),
            ("#x ", ""),
        ] {
            let err = event_from_edn(&deep(open, close, 20_000)).unwrap_err();
            assert!(err.contains("nested more than 128"), "{open}: {err}");
            assert!(event_from_edn(&deep(open, close, 100)).is_ok(), "{open}");
        }
        // Tags that each tag a finished value do not add up.
        let many = format!(
            "{{:type :ok, :f :read, :value [{}], :process 0}}",
            "#t/x \"u\" ".repeat(500)
        );
        assert_eq!(event_from_edn(&many).map(|_| ()), Ok(()));
    }

    #[test]
    fn huge_numbers_are_refused_not_parsed_for_minutes() {
        let line = format!(
            "{{:type :ok, :f :read, :value {}N, :process 0}}",
            "9".repeat(100_000)
        );
        let err = event_from_edn(&line).unwrap_err();
        assert!(err.contains("a number of 100001 characters"), "{err}");
        let line = format!(
            "{{:type :ok, :f :read, :value {}N, :process 0}}",
            "9".repeat(40)
        );
        assert!(event_from_edn(&line).is_ok());
    }

    #[test]
    fn names_what_is_wrong() {
        let err = event_from_edn("{:type :bogus, :f :read, :process 0}").unwrap_err();
        assert!(err.contains(":type must be"), "{err}");
        let err = event_from_edn("{:f :read, :process 0}").unwrap_err();
        assert!(err.contains("missing :type"), "{err}");
        let err = event_from_edn("[1 2]").unwrap_err();
        assert!(err.contains("expected a map"), "{err}");
    }
}
