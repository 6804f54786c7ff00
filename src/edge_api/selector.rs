//! Label and field selectors of list and watch requests on filtered paths.
//!
//! Label selectors: comma-separated requirements `key`, `!key`, `key=value`,
//! `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)` — all of
//! Kubernetes' syntax, so kube-proxy's `!service.kubernetes.io/headless,
//! !service.kubernetes.io/service-proxy-name` works. As in Kubernetes, `!=`
//! and `notin` also match objects without the key.
//!
//! Field selectors: `metadata.name` and `metadata.namespace` with `=`, `==`
//! or `!=`; any other field is refused (400), as the API server refuses
//! unsupported field labels, rather than silently ignored.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} selector {selector:?}: {reason}")]
pub(crate) struct SelectorError {
    what: &'static str,
    selector: String,
    reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Operator {
    Exists,
    NotExists,
    In(Vec<String>),
    NotIn(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    operator: Operator,
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    pub(crate) fn parse(selector: &str) -> Result<LabelSelector, SelectorError> {
        let error = |reason: String| SelectorError {
            what: "label",
            selector: selector.to_owned(),
            reason,
        };
        if selector.trim().is_empty() {
            return Ok(LabelSelector::default());
        }
        let requirements = split_top_level(selector)
            .map_err(error)?
            .into_iter()
            .map(|term| requirement(term.trim()).map_err(error))
            .collect::<Result<_, _>>()?;
        Ok(LabelSelector { requirements })
    }

    pub(crate) fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.requirements.iter().all(|r| {
            let value = labels.and_then(|l| l.get(&r.key));
            match &r.operator {
                Operator::Exists => value.is_some(),
                Operator::NotExists => value.is_none(),
                Operator::In(values) => value.is_some_and(|v| values.contains(v)),
                Operator::NotIn(values) => !value.is_some_and(|v| values.contains(v)),
            }
        })
    }
}

/// Splits at commas outside parentheses.
fn split_top_level(selector: &str) -> Result<Vec<&str>, String> {
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or("unbalanced `)`")?,
            ',' if depth == 0 => {
                terms.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced `(`".into());
    }
    terms.push(&selector[start..]);
    Ok(terms)
}

fn requirement(term: &str) -> Result<Requirement, String> {
    if term.is_empty() {
        return Err("empty requirement".into());
    }
    let (key, operator) = if let Some(key) = term.strip_prefix('!') {
        (key.trim(), Operator::NotExists)
    } else if let Some((key, value)) = term.split_once("!=") {
        (key.trim(), Operator::NotIn(vec![value_of(value)?]))
    } else if let Some((key, value)) = term.split_once("==") {
        (key.trim(), Operator::In(vec![value_of(value)?]))
    } else if let Some((key, value)) = term.split_once('=') {
        (key.trim(), Operator::In(vec![value_of(value)?]))
    } else if let Some((key, rest)) = term.split_once(char::is_whitespace) {
        let rest = rest.trim_start();
        let (negated, list) = if let Some(list) = rest.strip_prefix("notin") {
            (true, list)
        } else if let Some(list) = rest.strip_prefix("in") {
            (false, list)
        } else {
            return Err(format!("unknown operator in {term:?}"));
        };
        let values = value_list(list.trim())?;
        let operator = if negated {
            Operator::NotIn(values)
        } else {
            Operator::In(values)
        };
        (key, operator)
    } else {
        (term, Operator::Exists)
    };
    if !valid_key(key) {
        return Err(format!("invalid label key {key:?}"));
    }
    Ok(Requirement {
        key: key.to_owned(),
        operator,
    })
}

fn value_list(list: &str) -> Result<Vec<String>, String> {
    let inner = list
        .strip_prefix('(')
        .and_then(|l| l.strip_suffix(')'))
        .ok_or_else(|| format!("expected `(values)`, found {list:?}"))?;
    inner.split(',').map(value_of).collect()
}

fn value_of(value: &str) -> Result<String, String> {
    let value = value.trim();
    let ok = value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(format!("invalid label value {value:?}"))
    }
}

/// `[prefix/]name`, characters of DNS names and label names.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 317
        && !key.starts_with('/')
        && !key.ends_with('/')
        && key.matches('/').count() <= 1
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Namespace,
}

/// A parsed field selector (`metadata.name`/`metadata.namespace` only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldSelector {
    terms: Vec<(Field, bool, String)>,
}

impl FieldSelector {
    pub(crate) fn parse(selector: &str) -> Result<FieldSelector, SelectorError> {
        let error = |reason: String| SelectorError {
            what: "field",
            selector: selector.to_owned(),
            reason,
        };
        if selector.trim().is_empty() {
            return Ok(FieldSelector::default());
        }
        let mut terms = Vec::new();
        for term in selector.split(',') {
            let term = term.trim();
            let (field, equal, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, true, v)
            } else {
                return Err(error(format!("expected `field=value`, found {term:?}")));
            };
            let field = match field.trim() {
                "metadata.name" => Field::Name,
                "metadata.namespace" => Field::Namespace,
                other => return Err(error(format!("field label not supported: {other}"))),
            };
            terms.push((field, equal, value.trim().to_owned()));
        }
        Ok(FieldSelector { terms })
    }

    pub(crate) fn matches(&self, meta: &ObjectMeta) -> bool {
        self.terms.iter().all(|(field, equal, value)| {
            let actual = match field {
                Field::Name => meta.name.as_deref(),
                Field::Namespace => meta.namespace.as_deref(),
            };
            (actual.unwrap_or_default() == value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn matches(selector: &str, pairs: &[(&str, &str)]) -> bool {
        LabelSelector::parse(selector)
            .expect("valid selector")
            .matches(Some(&labels(pairs)))
    }

    #[test]
    fn empty_selector_matches_everything() {
        assert!(matches("", &[]));
        assert!(LabelSelector::parse(" ").expect("valid").matches(None));
    }

    #[test]
    fn equality_and_existence() {
        let svc = "kubernetes.io/service-name";
        assert!(matches("kubernetes.io/service-name=web", &[(svc, "web")]));
        assert!(matches("kubernetes.io/service-name==web", &[(svc, "web")]));
        assert!(!matches("kubernetes.io/service-name=web", &[(svc, "api")]));
        assert!(!matches("kubernetes.io/service-name=web", &[]));
        assert!(matches("kubernetes.io/service-name!=web", &[(svc, "api")]));
        assert!(matches("kubernetes.io/service-name!=web", &[]));
        assert!(!matches("kubernetes.io/service-name!=web", &[(svc, "web")]));
        assert!(matches("a", &[("a", "")]));
        assert!(!matches("a", &[]));
        assert!(matches("!a", &[("b", "1")]));
        assert!(!matches("!a", &[("a", "1")]));
        assert!(matches("a=", &[("a", "")]));
    }

    #[test]
    fn kube_proxy_selector() {
        let selector = "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name";
        assert!(matches(selector, &[("kubernetes.io/service-name", "web")]));
        assert!(!matches(
            selector,
            &[("service.kubernetes.io/headless", "")]
        ));
        assert!(!matches(
            selector,
            &[("service.kubernetes.io/service-proxy-name", "other")]
        ));
        assert!(LabelSelector::parse(selector).expect("valid").matches(None));
    }

    #[test]
    fn set_based_requirements() {
        assert!(matches("env in (prod, staging)", &[("env", "staging")]));
        assert!(!matches("env in (prod,staging)", &[("env", "dev")]));
        assert!(!matches("env in (prod)", &[]));
        assert!(matches(
            "env notin (prod),tier",
            &[("env", "dev"), ("tier", "x")]
        ));
        assert!(matches("env notin (prod)", &[]));
        assert!(!matches("env notin (prod)", &[("env", "prod")]));
    }

    #[test]
    fn rejects_malformed_selectors() {
        for bad in [
            "a,,b",
            "a=b c",
            "env in prod",
            "env in (prod",
            "env)",
            "env within (a)",
            "=v",
            "!",
            "a/b/c=1",
            "a=b!",
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
        let message = LabelSelector::parse("a,,b").expect_err("bad").to_string();
        assert!(message.contains("\"a,,b\""), "{message}");
    }

    fn meta(namespace: &str, name: &str) -> ObjectMeta {
        ObjectMeta {
            namespace: Some(namespace.into()),
            name: Some(name.into()),
            ..Default::default()
        }
    }

    #[test]
    fn field_selector_on_name_and_namespace() {
        let by_name = FieldSelector::parse("metadata.name=web").expect("valid");
        assert!(by_name.matches(&meta("a", "web")));
        assert!(!by_name.matches(&meta("a", "api")));
        let both = FieldSelector::parse("metadata.namespace==a,metadata.name!=web").expect("valid");
        assert!(both.matches(&meta("a", "api")));
        assert!(!both.matches(&meta("a", "web")));
        assert!(!both.matches(&meta("b", "api")));
        assert!(
            FieldSelector::parse("")
                .expect("valid")
                .matches(&meta("a", "b"))
        );
    }

    #[test]
    fn field_selector_refuses_other_fields() {
        let err = FieldSelector::parse("spec.nodeName=x").expect_err("unsupported");
        assert!(
            err.to_string().contains("field label not supported"),
            "{err}"
        );
        assert!(FieldSelector::parse("metadata.name").is_err());
    }
}
