//! Success checks on a response, judged on the body as the AURAX Locust file does: a
//! generation that fails answers HTTP 200 with `"success": false`.

use aurax_schema::Outcome;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct SuccessCheck {
    /// Accepted statuses; `None` accepts any 2xx.
    pub status: Option<Vec<u16>>,
    /// Dotted JSON paths that must equal the value.
    pub equals: Vec<(String, Value)>,
    /// Dotted JSON paths that must exist and not be null.
    pub present: Vec<String>,
    /// Where the server puts its error message.
    pub error_field: String,
}

/// The verdict on one response.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    pub error: Option<String>,
}

impl SuccessCheck {
    pub fn needs_body_json(&self) -> bool {
        !self.equals.is_empty() || !self.present.is_empty()
    }

    /// Whether `status` is one the check accepts.
    pub fn accepts_status(&self, status: u16) -> bool {
        match &self.status {
            Some(list) => list.contains(&status),
            None => (200..300).contains(&status),
        }
    }

    /// Whether judging a response of `status` reads its body: to check fields, or to quote
    /// the server's message on a refused status.
    pub fn reads_body(&self, status: u16) -> bool {
        self.needs_body_json() || !self.accepts_status(status)
    }

    /// Judges a response from its status and (possibly unparsed) body.
    pub fn judge(&self, status: u16, body: Option<&Value>) -> Verdict {
        // The server's own message, when it gave one: `"error": null` is no message.
        let server_message = || {
            body.and_then(|b| lookup(b, &self.error_field).or_else(|| lookup(b, "detail")))
                .and_then(|m| match m {
                    Value::Null => None,
                    Value::String(s) if s.trim().is_empty() => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
        };
        if !self.accepts_status(status) {
            let expected = match self.status.as_deref() {
                Some([one]) => one.to_string(),
                Some(list) => list
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(" or "),
                None => "2xx".to_string(),
            };
            let what = format!("status {status}, expected {expected}");
            let msg = match server_message() {
                Some(m) => format!("{what}: {m}"),
                None => what,
            };
            let outcome = if status >= 400 {
                Outcome::HttpError
            } else {
                Outcome::AppError
            };
            return fail(outcome, msg);
        }
        if !self.needs_body_json() {
            return Verdict {
                outcome: Outcome::Ok,
                error: None,
            };
        }
        let Some(body) = body else {
            return fail(Outcome::AppError, "response body is not JSON".to_string());
        };
        for (path, want) in &self.equals {
            match lookup(body, path) {
                Some(got) if json_eq(got, want) => {}
                got => {
                    // A server that says why (`success: false` with an `error`) is quoted;
                    // otherwise the check names itself and what came back.
                    let msg = server_message().unwrap_or_else(|| match got {
                        Some(got) => format!("{path} was {got}, expected {want}"),
                        None => format!("{path} missing, expected {want}"),
                    });
                    return fail(Outcome::AppError, msg);
                }
            }
        }
        for path in &self.present {
            if lookup(body, path).is_none_or(Value::is_null) {
                return fail(Outcome::AppError, format!("{path} missing from response"));
            }
        }
        Verdict {
            outcome: Outcome::Ok,
            error: None,
        }
    }
}

fn fail(outcome: Outcome, msg: String) -> Verdict {
    Verdict {
        outcome,
        error: Some(msg),
    }
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Looks up a dotted path (`metadata.model_used`) in a JSON value.
pub fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code_check() -> SuccessCheck {
        SuccessCheck {
            status: Some(vec![200]),
            equals: vec![
                ("success".into(), json!(true)),
                ("response_type".into(), json!("code")),
            ],
            present: vec![],
            error_field: "error".into(),
        }
    }

    #[test]
    fn success_false_is_an_app_error_with_the_server_message() {
        let body = json!({"success": false, "error": "model qwen3:coder unavailable"});
        let v = code_check().judge(200, Some(&body));
        assert_eq!(v.outcome, Outcome::AppError);
        assert_eq!(v.error.as_deref(), Some("model qwen3:coder unavailable"));
    }

    #[test]
    fn wrong_response_type_is_named_with_what_came_back() {
        // The published backend answers code requests from the text model, `error: null`.
        let body = json!({"success": true, "response_type": "text", "error": null});
        let v = code_check().judge(200, Some(&body));
        assert_eq!(v.outcome, Outcome::AppError);
        assert_eq!(
            v.error.as_deref(),
            Some(r#"response_type was "text", expected "code""#)
        );
    }

    #[test]
    fn a_wrong_status_says_which_was_expected() {
        let v = code_check().judge(503, None);
        assert_eq!(v.outcome, Outcome::HttpError);
        assert_eq!(v.error.as_deref(), Some("status 503, expected 200"));
        let body = json!({"detail": "Prompt cannot be empty"});
        let v = code_check().judge(400, Some(&body));
        assert_eq!(
            v.error.as_deref(),
            Some("status 400, expected 200: Prompt cannot be empty")
        );
        let any_2xx = SuccessCheck {
            status: None,
            ..code_check()
        };
        let v = any_2xx.judge(302, None);
        assert_eq!(v.outcome, Outcome::AppError);
        assert_eq!(v.error.as_deref(), Some("status 302, expected 2xx"));
    }

    #[test]
    fn success_false_without_a_message_names_the_check() {
        let body = json!({"success": false, "error": null});
        let v = code_check().judge(200, Some(&body));
        assert_eq!(v.error.as_deref(), Some("success was false, expected true"));
    }

    #[test]
    fn statuses_and_missing_fields() {
        let ok = json!({"success": true, "response_type": "code"});
        assert_eq!(code_check().judge(200, Some(&ok)).outcome, Outcome::Ok);
        assert_eq!(code_check().judge(503, None).outcome, Outcome::HttpError);
        assert_eq!(code_check().judge(200, None).outcome, Outcome::AppError);
        let route = SuccessCheck {
            present: vec!["routing".into()],
            ..code_check()
        };
        let v = route.judge(200, Some(&ok));
        assert_eq!(v.error.as_deref(), Some("routing missing from response"));
    }
}
