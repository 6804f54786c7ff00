//! Container image references: `[registry/]repository[:tag][@digest]`.
//!
//! The grammar is the one of the distribution reference (what `docker pull`
//! and the kubelet accept), with one deliberate difference from Docker: we
//! never expand short names (`nginx` stays `nginx`, not
//! `docker.io/library/nginx`), because the rendered manifest must keep what
//! the user wrote.

use std::fmt;

use crate::api::{ImageComponent, OverriderOperator};

/// Longest `[registry/]repository` the distribution grammar accepts.
const MAX_NAME_LEN: usize = 255;
/// Longest tag the distribution grammar accepts.
const MAX_TAG_LEN: usize = 128;
/// Fewest hex digits of a digest (128 bits).
const MIN_DIGEST_HEX: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    /// `algorithm:hex`, without the `@`.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses a reference; the error is a human-readable problem description.
    ///
    /// The first `/`-separated segment is a registry only if it contains `.`
    /// or `:` or is `localhost` (and more segments follow), so `reg.io:5000/app`
    /// has a port, not a tag, while `app:5000` has a tag.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("empty image reference".into());
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "image reference {s:?} contains whitespace or control characters"
            ));
        }
        let (name_and_tag, digest) = match s.split_once('@') {
            Some((name_and_tag, digest)) => (name_and_tag, Some(digest)),
            None => (s, None),
        };
        let (name, tag) = split_tag(name_and_tag);
        let (registry, repository) = split_registry(name);
        if let Some(registry) = registry {
            check_registry(registry)?;
        }
        check_repository(repository)?;
        if name.len() > MAX_NAME_LEN {
            return Err(format!(
                "name {name:?} is {} characters, over the limit of {MAX_NAME_LEN}",
                name.len()
            ));
        }
        if let Some(tag) = tag {
            check_tag(tag)?;
        }
        if let Some(digest) = digest {
            check_digest(digest)?;
        }
        Ok(ImageRef {
            registry: registry.map(str::to_owned),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }

    /// Applies one overrider operation to one component; error = problem description.
    ///
    /// `add` appends the value to the component's text, as KubeEdge does
    /// (`reg.io` + `.cn` = `reg.io.cn`; an absent component counts as empty).
    /// The result is what the resulting *string* means, re-parsed: KubeEdge
    /// writes the string the same way, so `reg.io` + add `/mirror` gives
    /// `reg.io/mirror/nginx`, i.e. registry `reg.io`, repository `mirror/nginx`.
    /// The string must be a valid reference, otherwise the overrider fails.
    pub fn apply(
        &self,
        component: ImageComponent,
        operator: OverriderOperator,
        value: &str,
    ) -> Result<Self, String> {
        if value.is_empty() && operator != OverriderOperator::Remove {
            return Err(format!(
                "{} of the {} needs a non-empty value",
                operator_name(operator),
                component_name(component)
            ));
        }
        let candidate = match component {
            ImageComponent::Registry => self.with_registry(operator, value),
            ImageComponent::Repository => self.with_repository(operator, value)?,
            ImageComponent::Tag => self.with_tag(operator, value)?,
        };
        candidate.check_components()?;
        let text = candidate.to_string();
        let result = ImageRef::parse(&text).map_err(|problem| {
            format!("result {text:?} is not a valid image reference: {problem}")
        })?;
        check_registry_outcome(component, operator, &result, &text)?;
        Ok(result)
    }

    /// Checks each component on its own first, so the problem names the
    /// component the overrider broke rather than the whole string.
    fn check_components(&self) -> Result<(), String> {
        // A registry with a path appended (`reg.io/mirror`) is legitimate
        // here; the re-parse of the whole string judges it.
        if let Some(registry) = self.registry.as_deref().filter(|r| !r.contains('/')) {
            check_registry(registry)?;
        }
        check_repository(&self.repository)?;
        self.tag.as_deref().map_or(Ok(()), check_tag)?;
        self.digest.as_deref().map_or(Ok(()), check_digest)
    }

    fn with_registry(&self, operator: OverriderOperator, value: &str) -> Self {
        let registry = match operator {
            OverriderOperator::Replace => Some(value.to_owned()),
            OverriderOperator::Remove => None,
            OverriderOperator::Add => {
                Some(format!("{}{value}", self.registry.as_deref().unwrap_or("")))
            }
        };
        ImageRef {
            registry,
            ..self.clone()
        }
    }

    fn with_repository(&self, operator: OverriderOperator, value: &str) -> Result<Self, String> {
        let repository = match operator {
            OverriderOperator::Replace => value.to_owned(),
            OverriderOperator::Remove => {
                return Err("the repository cannot be removed: an image needs one".into());
            }
            OverriderOperator::Add => format!("{}{value}", self.repository),
        };
        Ok(ImageRef {
            repository,
            ..self.clone()
        })
    }

    /// The tag component covers the digest too: the value may be a tag (`v1`,
    /// or `:v1`) or a digest (`@sha256:…` or `sha256:…`; a tag cannot contain
    /// `:` or `@`, so the two never look alike).
    ///
    /// Any change of the tag clears the digest: the runtime pulls by digest
    /// when one is present, so a changed tag next to the old digest would
    /// silently not take effect. Adding a digest to a reference without one
    /// keeps the tag (`nginx:1.25` + `@sha256:…` is what appending yields).
    fn with_tag(&self, operator: OverriderOperator, value: &str) -> Result<Self, String> {
        let base = ImageRef {
            tag: None,
            digest: None,
            ..self.clone()
        };
        let result = match (operator, TagValue::of(value)) {
            (OverriderOperator::Remove, _) => base,
            (OverriderOperator::Replace, TagValue::Tag(tag)) => ImageRef {
                tag: Some(tag.into()),
                ..base
            },
            (OverriderOperator::Replace, TagValue::Digest(digest)) => ImageRef {
                digest: Some(digest.into()),
                ..base
            },
            (OverriderOperator::Add, TagValue::Tag(suffix)) => {
                let tag = format!("{}{suffix}", self.tag.as_deref().unwrap_or(""));
                ImageRef {
                    tag: Some(tag),
                    ..base
                }
            }
            (OverriderOperator::Add, TagValue::Digest(digest)) => {
                if let Some(existing) = &self.digest {
                    return Err(format!(
                        "cannot add digest {digest:?}: the image already has digest {existing:?} (use replace)"
                    ));
                }
                ImageRef {
                    digest: Some(digest.into()),
                    ..self.clone()
                }
            }
        };
        Ok(result)
    }
}

/// What a value for the tag component stands for.
enum TagValue<'a> {
    Tag(&'a str),
    Digest(&'a str),
}

impl<'a> TagValue<'a> {
    fn of(value: &'a str) -> Self {
        if let Some(digest) = value.strip_prefix('@') {
            return TagValue::Digest(digest);
        }
        if let Some(tag) = value.strip_prefix(':') {
            return TagValue::Tag(tag);
        }
        if value.contains(':') {
            TagValue::Digest(value)
        } else {
            TagValue::Tag(value)
        }
    }
}

/// Registry edits whose string would be read differently are refused rather
/// than silently meaning something else: removing `reg.io` from
/// `reg.io/a.b/app` leaves `a.b/app`, whose first segment reads as a registry,
/// and setting registry `team` on `app` gives `team/app`, which has none.
fn check_registry_outcome(
    component: ImageComponent,
    operator: OverriderOperator,
    result: &ImageRef,
    text: &str,
) -> Result<(), String> {
    if component != ImageComponent::Registry {
        return Ok(());
    }
    match (operator, &result.registry) {
        (OverriderOperator::Remove, Some(registry)) => Err(format!(
            "result {text:?} still reads as having registry {registry:?}"
        )),
        (OverriderOperator::Add | OverriderOperator::Replace, None) => Err(format!(
            "result {text:?} reads as having no registry: a registry needs a '.' or ':' or must be \"localhost\""
        )),
        _ => Ok(()),
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn operator_name(operator: OverriderOperator) -> &'static str {
    match operator {
        OverriderOperator::Add => "add",
        OverriderOperator::Remove => "remove",
        OverriderOperator::Replace => "replace",
    }
}

fn component_name(component: ImageComponent) -> &'static str {
    match component {
        ImageComponent::Registry => "registry",
        ImageComponent::Repository => "repository",
        ImageComponent::Tag => "tag",
    }
}

/// `name[:tag]`: a `:` is a tag separator only after the last `/`, so a
/// registry port is never taken for a tag.
fn split_tag(s: &str) -> (&str, Option<&str>) {
    match s.rfind(':') {
        Some(colon) if !s[colon..].contains('/') => (&s[..colon], Some(&s[colon + 1..])),
        _ => (s, None),
    }
}

/// `[registry/]repository`, by the rule of DESIGN §2.
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

/// `host[:port]`, host being a domain name, an IPv4 address or `[IPv6]`.
fn check_registry(registry: &str) -> Result<(), String> {
    let (host, port) = split_port(registry)?;
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "registry {registry:?} has an invalid port {port:?}"
        ));
    }
    if host.starts_with('[') {
        return check_ipv6_host(registry, host);
    }
    if host.is_empty() {
        return Err(format!("registry {registry:?} has an empty host"));
    }
    host.split('.')
        .try_for_each(|label| check_domain_label(registry, label))
}

fn split_port(registry: &str) -> Result<(&str, Option<&str>), String> {
    if registry.starts_with('[') {
        let Some(close) = registry.find(']') else {
            return Err(format!("registry {registry:?} has an unclosed '['"));
        };
        let (host, rest) = registry.split_at(close + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if rest.is_empty() => Ok((host, None)),
            None => Err(format!(
                "registry {registry:?} has unexpected text after ']'"
            )),
        };
    }
    Ok(match registry.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    })
}

fn check_ipv6_host(registry: &str, host: &str) -> Result<(), String> {
    let inner = &host[1..host.len() - 1];
    if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
        return Err(format!("registry {registry:?} has an invalid IPv6 address"));
    }
    Ok(())
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
fn check_domain_label(registry: &str, label: &str) -> Result<(), String> {
    let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    let valid = alnum(label.bytes().next())
        && alnum(label.bytes().last())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if valid {
        Ok(())
    } else if label.is_empty() {
        Err(format!(
            "registry {registry:?} has an empty domain component"
        ))
    } else {
        Err(format!(
            "registry {registry:?} has an invalid domain component {label:?}"
        ))
    }
}

/// `path-component ['/' path-component]*`
fn check_repository(repository: &str) -> Result<(), String> {
    if repository.is_empty() {
        return Err("empty repository".into());
    }
    if repository.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!("repository {repository:?} must be lowercase"));
    }
    repository
        .split('/')
        .try_for_each(|component| check_path_component(repository, component))
}

/// `[a-z0-9]+` runs separated by exactly one of `.`, `_`, `__` or `-+`.
fn check_path_component(repository: &str, component: &str) -> Result<(), String> {
    if component.is_empty() {
        return Err(format!(
            "repository {repository:?} has an empty path component"
        ));
    }
    if let Some(bad) = component
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "repository {repository:?} has invalid character {bad:?}"
        ));
    }
    let is_alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let starts_and_ends_alnum = component.starts_with(is_alnum) && component.ends_with(is_alnum);
    let separators_valid = component
        .split(is_alnum)
        .filter(|run| !run.is_empty())
        .all(|run| matches!(run, "." | "_" | "__") || run.bytes().all(|b| b == b'-'));
    if starts_and_ends_alnum && separators_valid {
        Ok(())
    } else {
        Err(format!(
            "repository component {component:?} must be lowercase letters and digits separated by '.', '_', '__' or dashes"
        ))
    }
}

/// `[\w][\w.-]{0,127}`
fn check_tag(tag: &str) -> Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    if tag.is_empty() {
        return Err("empty tag after ':'".into());
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(format!(
            "tag {tag:?} is longer than {MAX_TAG_LEN} characters"
        ));
    }
    let first_ok = tag.bytes().next().is_some_and(word);
    if first_ok && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-') {
        Ok(())
    } else {
        Err(format!("tag {tag:?} has invalid characters"))
    }
}

/// `algorithm:hex`; the hex length is checked exactly for the algorithms
/// registries use, and to be at least 128 bits for any other.
fn check_digest(digest: &str) -> Result<(), String> {
    if digest.is_empty() {
        return Err("empty digest after '@'".into());
    }
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!("digest {digest:?} must be algorithm:hex"));
    };
    check_digest_algorithm(digest, algorithm)?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("digest {digest:?} has a non-hex value"));
    }
    let expected = match algorithm {
        "sha256" => Some(64),
        "sha384" => Some(96),
        "sha512" => Some(128),
        _ => None,
    };
    match expected {
        Some(len) if hex.len() != len => Err(format!(
            "digest {digest:?}: {algorithm} needs {len} hex digits, got {}",
            hex.len()
        )),
        None if hex.len() < MIN_DIGEST_HEX => Err(format!(
            "digest {digest:?} needs at least {MIN_DIGEST_HEX} hex digits"
        )),
        _ => Ok(()),
    }
}

/// `[A-Za-z][A-Za-z0-9]*` components separated by one of `+.-_`.
fn check_digest_algorithm(digest: &str, algorithm: &str) -> Result<(), String> {
    let valid = algorithm.split(['+', '.', '-', '_']).all(|part| {
        part.starts_with(|c: char| c.is_ascii_alphabetic())
            && part.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "digest {digest:?} has an invalid algorithm {algorithm:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ImageComponent::{Registry, Repository, Tag};
    use OverriderOperator::{Add, Remove, Replace};
    use proptest::prelude::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parse(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn parts(s: &str) -> (Option<String>, String, Option<String>, Option<String>) {
        let r = parse(s);
        (r.registry, r.repository, r.tag, r.digest)
    }

    fn apply(
        image: &str,
        component: ImageComponent,
        operator: OverriderOperator,
        value: &str,
    ) -> String {
        match parse(image).apply(component, operator, value) {
            Ok(result) => result.to_string(),
            Err(problem) => panic!("{image} {component:?} {operator:?} {value:?}: {problem}"),
        }
    }

    fn apply_err(
        image: &str,
        component: ImageComponent,
        operator: OverriderOperator,
        value: &str,
    ) -> String {
        match parse(image).apply(component, operator, value) {
            Ok(result) => panic!("expected an error, got {result}"),
            Err(problem) => problem,
        }
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn short_names_are_kept_as_written() {
        assert_eq!(parts("nginx"), (None, "nginx".into(), None, None));
        assert_eq!(
            parts("library/nginx:1.25"),
            (None, "library/nginx".into(), s("1.25"), None)
        );
    }

    #[test]
    fn first_segment_is_a_registry_only_with_dot_colon_or_localhost() {
        assert_eq!(parts("reg.io/app").0, s("reg.io"));
        assert_eq!(parts("reg:5000/app").0, s("reg:5000"));
        assert_eq!(parts("localhost/app").0, s("localhost"));
        assert_eq!(parts("team/app").0, None);
        assert_eq!(parts("[::1]:5000/app").0, s("[::1]:5000"));
        // Without a '/', there is no registry, however the name looks.
        assert_eq!(parts("localhost"), (None, "localhost".into(), None, None));
    }

    #[test]
    fn a_registry_port_is_not_a_tag() {
        assert_eq!(
            parts("reg.io:5000/app:1"),
            (s("reg.io:5000"), "app".into(), s("1"), None)
        );
        assert_eq!(
            parts("reg.io:5000/app"),
            (s("reg.io:5000"), "app".into(), None, None)
        );
        assert_eq!(parts("app:5000"), (None, "app".into(), s("5000"), None));
    }

    #[test]
    fn tag_and_digest_together() {
        let r = parse(&format!("reg.io/a/b:v1@{SHA}"));
        assert_eq!((r.tag, r.digest), (s("v1"), s(SHA)));
        assert_eq!(parse(&format!("nginx@{SHA}")).tag, None);
    }

    #[test]
    fn invalid_references_are_rejected_with_a_reason() {
        for (input, expected) in [
            ("", "empty image reference"),
            ("ngi nx", "whitespace"),
            ("nginx\n", "whitespace"),
            ("Nginx", "must be lowercase"),
            ("nginx:", "empty tag"),
            (":v1", "empty repository"),
            ("nginx:x/y", "invalid port"),
            ("nginx:1:2", "invalid character ':'"),
            ("ng!nx", "invalid character '!'"),
            ("nginx:-x", "tag \"-x\" has invalid characters"),
            ("a//b", "empty path component"),
            ("a/", "empty path component"),
            ("reg.io/", "empty repository"),
            ("-a", "must be lowercase letters"),
            ("a___b", "must be lowercase letters"),
            ("a..b", "must be lowercase letters"),
            ("a.-b", "must be lowercase letters"),
            ("reg.io:port/a", "invalid port"),
            ("reg.io:/a", "invalid port"),
            ("-reg.io/a", "invalid domain component"),
            ("reg..io/a", "empty domain component"),
            ("[zz]:1/a", "IPv6"),
            ("[::1/a", "unclosed"),
            ("nginx@", "empty digest"),
            ("nginx@sha256", "algorithm:hex"),
            ("nginx@sha256:abc", "needs 64 hex digits"),
            ("nginx@md5x:abc", "at least 32"),
            (
                "nginx@1sha:0123456789abcdef0123456789abcdef",
                "invalid algorithm",
            ),
            ("nginx@sha256:zz", "non-hex"),
            ("nginx@a@b", "algorithm:hex"),
        ] {
            match ImageRef::parse(input) {
                Ok(r) => panic!("{input:?} parsed as {r:?}"),
                Err(problem) => assert!(problem.contains(expected), "{input:?}: {problem}"),
            }
        }
        let long_tag = format!("nginx:{}", "a".repeat(129));
        assert!(ImageRef::parse(&long_tag).is_err());
        let long_name = format!("reg.io/{}", "a".repeat(250));
        assert!(
            ImageRef::parse(&long_name)
                .unwrap_err()
                .contains("over the limit")
        );
    }

    #[test]
    fn separators_in_repository_components() {
        for ok in ["a.b", "a_b", "a__b", "a-b", "a---b", "a1/b2/c3", "0"] {
            parse(ok);
        }
    }

    #[test]
    fn display_round_trips() {
        for image in [
            "nginx",
            "reg.io:5000/a/b:v1",
            &format!("localhost/x@{SHA}"),
            &format!("a:1@{SHA}"),
        ] {
            assert_eq!(parse(image).to_string(), image);
        }
    }

    #[test]
    fn registry_operators() {
        assert_eq!(
            apply("reg.io/app:1", Registry, Replace, "mirror.cn:5000"),
            "mirror.cn:5000/app:1"
        );
        assert_eq!(apply("nginx", Registry, Replace, "reg.io"), "reg.io/nginx");
        assert_eq!(apply("reg.io/app:1", Registry, Remove, ""), "app:1");
        assert_eq!(
            apply("fictional.registry.us/busybox:1.0", Registry, Add, ".cn"),
            "fictional.registry.us.cn/busybox:1.0"
        );
        assert_eq!(apply("nginx", Registry, Add, "reg.io"), "reg.io/nginx");
        // The string is what counts: the appended path becomes part of the repository.
        let mirrored = parse("reg.io/nginx")
            .apply(Registry, Add, "/mirror")
            .unwrap();
        assert_eq!(
            (mirrored.registry.as_deref(), mirrored.repository.as_str()),
            (Some("reg.io"), "mirror/nginx")
        );
    }

    #[test]
    fn registry_results_that_read_differently_are_refused() {
        assert!(apply_err("nginx", Registry, Add, ".cn").contains("empty domain component"));
        assert!(apply_err("nginx", Registry, Replace, "team").contains("no registry"));
        assert!(
            apply_err("reg.io/a.b/app", Registry, Remove, "")
                .contains("still reads as having registry")
        );
        assert!(
            apply_err("reg.io/app", Registry, Replace, "bad_host.io")
                .contains("invalid domain component")
        );
    }

    #[test]
    fn repository_operators() {
        assert_eq!(
            apply("reg.io/app:1", Repository, Replace, "team/web"),
            "reg.io/team/web:1"
        );
        assert_eq!(
            apply("reg.io/app:1", Repository, Add, "-debug"),
            "reg.io/app-debug:1"
        );
        assert!(apply_err("app", Repository, Remove, "").contains("needs one"));
        assert!(apply_err("app", Repository, Replace, "App").contains("lowercase"));
    }

    #[test]
    fn tag_operators() {
        assert_eq!(apply("app:1", Tag, Replace, "2"), "app:2");
        assert_eq!(apply("app:1", Tag, Replace, ":2"), "app:2");
        assert_eq!(apply("app", Tag, Add, "v1"), "app:v1");
        assert_eq!(apply("app:1.25", Tag, Add, "-alpine"), "app:1.25-alpine");
        assert_eq!(apply(&format!("app:1@{SHA}"), Tag, Remove, ""), "app");
        assert!(
            apply_err("app:1", Tag, Replace, "x y").contains("tag \"x y\" has invalid characters")
        );
    }

    #[test]
    fn changing_the_tag_drops_the_digest() {
        assert_eq!(apply(&format!("app:1@{SHA}"), Tag, Replace, "2"), "app:2");
        assert_eq!(apply(&format!("app:1@{SHA}"), Tag, Add, "-x"), "app:1-x");
    }

    #[test]
    fn digests_through_the_tag_component() {
        assert_eq!(
            apply("app:1", Tag, Replace, &format!("@{SHA}")),
            format!("app@{SHA}")
        );
        assert_eq!(apply("app:1", Tag, Replace, SHA), format!("app@{SHA}"));
        assert_eq!(
            apply("app:1", Tag, Add, &format!("@{SHA}")),
            format!("app:1@{SHA}")
        );
        assert!(apply_err(&format!("app@{SHA}"), Tag, Add, SHA).contains("already has digest"));
        assert!(apply_err("app", Tag, Replace, "sha256:12").contains("needs 64 hex digits"));
    }

    #[test]
    fn empty_values_are_refused_for_add_and_replace() {
        assert!(apply_err("app", Tag, Replace, "").contains("non-empty value"));
        assert!(apply_err("app", Registry, Add, "").contains("non-empty value"));
    }

    fn domain_label() -> impl Strategy<Value = String> {
        "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?"
    }

    fn registry() -> impl Strategy<Value = String> {
        let host = prop_oneof![
            Just("localhost".to_owned()),
            (domain_label(), prop::collection::vec(domain_label(), 1..3))
                .prop_map(|(first, rest)| format!("{first}.{}", rest.join("."))),
            "[a-z][a-z0-9]{0,5}",
        ];
        (host, prop::option::of(0u32..70000)).prop_filter_map(
            "a registry needs '.', ':' or localhost",
            |(host, port)| {
                let registry = match port {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                };
                (registry.contains(['.', ':']) || registry == "localhost").then_some(registry)
            },
        )
    }

    fn path_component(with_dots: bool) -> impl Strategy<Value = String> {
        let separator = if with_dots {
            "(\\.|_|__|-{1,3})"
        } else {
            "(_|__|-{1,3})"
        };
        proptest::string::string_regex(&format!(
            "[a-z0-9]{{1,5}}({separator}[a-z0-9]{{1,5}}){{0,2}}"
        ))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Valid references, built from the grammar; without a registry the first
    /// segment has no '.' and is not `localhost`, or it would read as one.
    fn reference() -> impl Strategy<Value = String> {
        (
            prop::option::of(registry()),
            path_component(false),
            prop::collection::vec(path_component(true), 0..3),
            prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
            prop::option::of("[0-9a-f]{64}"),
        )
            .prop_filter_map(
                "first segment would be a registry",
                |(registry, first, rest, tag, digest)| {
                    if registry.is_none() && first == "localhost" {
                        return None;
                    }
                    let mut s = registry.map(|r| format!("{r}/")).unwrap_or_default();
                    s.push_str(&first);
                    rest.iter().for_each(|segment| {
                        s.push('/');
                        s.push_str(segment);
                    });
                    if let Some(tag) = tag {
                        s.push(':');
                        s.push_str(&tag);
                    }
                    if let Some(hex) = digest {
                        s.push_str("@sha256:");
                        s.push_str(&hex);
                    }
                    Some(s)
                },
            )
    }

    fn component() -> impl Strategy<Value = ImageComponent> {
        prop_oneof![Just(Registry), Just(Repository), Just(Tag)]
    }

    fn operator() -> impl Strategy<Value = OverriderOperator> {
        prop_oneof![Just(Add), Just(Remove), Just(Replace)]
    }

    proptest! {
        #[test]
        fn valid_references_round_trip(s in reference()) {
            let parsed = ImageRef::parse(&s);
            prop_assert!(parsed.is_ok(), "{s}: {parsed:?}");
            prop_assert_eq!(parsed.map(|r| r.to_string()).unwrap_or_default(), s);
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            if let Ok(r) = ImageRef::parse(&s) {
                prop_assert_eq!(r.to_string(), s);
            }
        }

        #[test]
        fn apply_never_panics_and_yields_valid_references(
            s in prop_oneof![reference(), "\\PC{0,30}"],
            component in component(),
            operator in operator(),
            value in prop_oneof!["\\PC{0,20}", "[a-z0-9.:/@-]{0,12}"],
        ) {
            if let Ok(r) = ImageRef::parse(&s)
                && let Ok(result) = r.apply(component, operator, &value)
            {
                let text = result.to_string();
                prop_assert_eq!(ImageRef::parse(&text), Ok(result));
            }
        }
    }
}
