//! Request body templates: JSON with generators (`$choice`, `$int`, `$float`) resolved per
//! request from the user's own seeded random source.

use rand::Rng;
use serde_json::{Map, Number, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum BodyTemplate {
    Literal(Value),
    Choice(Vec<BodyTemplate>),
    Int(i64, i64),
    Float(f64, f64),
    Object(Vec<(String, BodyTemplate)>),
    Array(Vec<BodyTemplate>),
}

impl BodyTemplate {
    /// Compiles a TOML value; the error names the offending field path.
    pub fn compile(value: &toml::Value, at: &str) -> Result<BodyTemplate, String> {
        match value {
            toml::Value::Table(table) => {
                if table.len() == 1
                    && let Some((key, arg)) = table.iter().next()
                    && key.starts_with('$')
                {
                    return Self::generator(key, arg, at);
                }
                let fields = table
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), Self::compile(v, &format!("{at}.{k}"))?)))
                    .collect::<Result<_, String>>()?;
                Ok(BodyTemplate::Object(fields))
            }
            toml::Value::Array(items) => {
                let items = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Self::compile(v, &format!("{at}[{i}]")))
                    .collect::<Result<_, String>>()?;
                Ok(BodyTemplate::Array(items))
            }
            other => Ok(BodyTemplate::Literal(toml_to_json(other))),
        }
    }

    fn generator(key: &str, arg: &toml::Value, at: &str) -> Result<BodyTemplate, String> {
        let pair = |what: &str| -> Result<(f64, f64), String> {
            match arg.as_array().map(|a| a.as_slice()) {
                Some([lo, hi]) => {
                    let num =
                        |v: &toml::Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
                    match (num(lo), num(hi)) {
                        // A range wider than f64 holds (-1e308..1e308) cannot be drawn from.
                        (Some(lo), Some(hi)) if lo <= hi && (hi - lo).is_finite() => Ok((lo, hi)),
                        _ => Err(format!(
                            "{at}: {what} needs [low, high] finite numbers with low <= high (and a range under 1e308)"
                        )),
                    }
                }
                _ => Err(format!(
                    "{at}: {what} needs a two-element array [low, high]"
                )),
            }
        };
        match key {
            "$choice" => {
                let items = arg
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| format!("{at}: $choice needs a non-empty array"))?;
                let items = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Self::compile(v, &format!("{at}.$choice[{i}]")))
                    .collect::<Result<_, String>>()?;
                Ok(BodyTemplate::Choice(items))
            }
            "$int" => {
                let (lo, hi) = pair("$int")?;
                Ok(BodyTemplate::Int(lo as i64, hi as i64))
            }
            "$float" => {
                let (lo, hi) = pair("$float")?;
                Ok(BodyTemplate::Float(lo, hi))
            }
            other => Err(format!(
                "{at}: unknown generator `{other}` (known: $choice, $int, $float)"
            )),
        }
    }

    pub fn render<R: Rng>(&self, rng: &mut R) -> Value {
        match self {
            BodyTemplate::Literal(v) => v.clone(),
            BodyTemplate::Choice(items) => items[rng.random_range(0..items.len())].render(rng),
            BodyTemplate::Int(lo, hi) => Value::from(rng.random_range(*lo..=*hi)),
            BodyTemplate::Float(lo, hi) => {
                let x = if lo == hi {
                    *lo
                } else {
                    rng.random_range(*lo..*hi)
                };
                Number::from_f64((x * 100.0).round() / 100.0).map_or(Value::Null, Value::Number)
            }
            BodyTemplate::Object(fields) => {
                let map: Map<String, Value> = fields
                    .iter()
                    .map(|(k, t)| (k.clone(), t.render(rng)))
                    .collect();
                Value::Object(map)
            }
            BodyTemplate::Array(items) => {
                Value::Array(items.iter().map(|t| t.render(rng)).collect())
            }
        }
    }
}

pub fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn compile(src: &str) -> Result<BodyTemplate, String> {
        let v: toml::Value = toml::from_str(src).expect("valid toml");
        BodyTemplate::compile(&v, "body")
    }

    #[test]
    fn generators_stay_in_range_and_literals_pass_through() {
        let t = compile(
            r#"max_tokens = { "$int" = [500, 1500] }
               th = { "$float" = [0.3, 0.8] }
               p = { "$choice" = ["a", "b"] }
               model = "qwen3:coder"
               meta = { preferred_model = "code" }"#,
        )
        .expect("compiles");
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..500 {
            let v = t.render(&mut rng);
            let n = v["max_tokens"].as_i64().expect("int");
            assert!((500..=1500).contains(&n));
            let f = v["th"].as_f64().expect("float");
            assert!((0.3..=0.8).contains(&f));
            assert!(matches!(v["p"].as_str(), Some("a" | "b")));
            assert_eq!(v["model"], "qwen3:coder");
            assert_eq!(v["meta"]["preferred_model"], "code");
        }
    }

    #[test]
    fn bad_generators_name_the_field() {
        let err = compile(r#"x = { "$int" = [5, 1] }"#).expect_err("low > high");
        assert!(err.starts_with("body.x"), "{err}");
        let err = compile(r#"x = { "$pick" = [1] }"#).expect_err("unknown");
        assert!(err.contains("unknown generator"), "{err}");
        // A range no f64 can span would panic the draw: refused where it is written.
        let err = compile(r#"x = { "$float" = [-1e308, 1e308] }"#).expect_err("too wide");
        assert!(err.contains("range under 1e308"), "{err}");
    }
}
