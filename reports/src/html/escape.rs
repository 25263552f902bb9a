//! Making recorded text safe to show. Everything in a run folder that came from the target
//! or the history (logs, keys, values, errors, process names) is untrusted: it goes into
//! the page only through these functions.

use serde::Serialize;

/// Escapes text for an HTML text node or a quoted attribute value: `&`, `<`, `>`, `"` and
/// `'` become entities, so no recorded byte can open a tag or leave an attribute.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Serialises `value` as JSON that can sit inside a `<script type="application/json">`
/// block: `<`, `>` and `&` are written as `\u003c`-style escapes so no `</script>` or
/// `<!--` can end or confuse the block, and U+2028/U+2029 as escapes for older parsers.
/// The page reads it back with `JSON.parse`, which undoes the escapes.
pub fn script_json<T: Serialize>(value: &T) -> String {
    // Serialising plain data (maps, strings, numbers) into a String cannot fail; an error
    // here would be a type that refuses to serialise, which these pages never hold.
    let text = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
    out
}

/// A JSON value as one line of text for a person (strings without their quotes).
pub fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn html_escapes_every_special_character() {
        assert_eq!(
            html(r#"<script>alert(1)</script>"#),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            html(r#""><img src=x onerror=alert(1)>"#),
            "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(html("a'b&c"), "a&#39;b&amp;c");
    }

    #[test]
    fn script_json_cannot_close_its_block_and_round_trips() {
        let value = json!({"v": "</script><script>alert(1)</script>&\u{2028}\u{2029}"});
        let text = script_json(&value);
        assert!(!text.contains('<') && !text.contains('>') && !text.contains('&'));
        assert!(!text.contains('\u{2028}') && !text.contains('\u{2029}'));
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
