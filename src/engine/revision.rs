//! Revision history of an EdgeApplication: every applied spec kept as a
//! numbered apps/v1 ControllerRevision (the way Deployments and StatefulSets
//! keep theirs), in the application's namespace, owned by it so the garbage
//! collector removes them with it, bounded to the last [`KEEP`].
//!
//! Pure: what to record, what to prune, and the diff between two. The
//! controller lists, creates and deletes.
//!
//! Revisions are named `APP-N`, not by hash as Kubernetes does: an undo to
//! revision 3 is a new revision (the newest is always what runs), so two
//! revisions may hold the same spec and a hash name would collide.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::{Resource, ResourceExt};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::api::{EdgeApplication, EdgeApplicationSpec};

/// How many revisions an application keeps.
pub const KEEP: usize = 10;
/// The label naming the application a revision belongs to.
pub const APP_LABEL: &str = "edgedeck.io/edge-application";
/// The hash of the recorded spec: the newest one's decides whether to record.
pub const HASH_ANNOTATION: &str = "edgedeck.io/spec-hash";
/// Who or what made the change (the field manager of the latest spec change).
pub const CAUSE_ANNOTATION: &str = "edgedeck.io/change-cause";
/// The field manager the rollout controller writes applications with.
pub const ROLLOUT_MANAGER: &str = "edgedeck-rollout";
/// The field manager of `edgedeck rollout undo --to-revision` (direct).
pub const UNDO_MANAGER: &str = "edgedeck-rollout-undo";

/// A stable hash of a spec (its JSON; field order is the struct's).
pub fn spec_hash(spec: &EdgeApplicationSpec) -> String {
    let bytes = serde_json::to_vec(spec).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The revision number of a ControllerRevision.
pub fn number(revision: &ControllerRevision) -> i64 {
    revision.revision
}

/// The newest revision (highest number) of those given.
pub fn newest(revisions: &[ControllerRevision]) -> Option<&ControllerRevision> {
    revisions.iter().max_by_key(|r| number(r))
}

/// A managedFields entry: manager, time, its `f:spec` set.
type Entry<'a> = (&'a str, Option<Timestamp>, &'a Value);

/// Who changed the spec since `previous` was recorded: of the field
/// managers owning the deepest spec field whose value differs from the
/// previous revision's, the one that wrote last; the last writer of any spec
/// field when none can be told (no previous revision, or a change no owned
/// field covers). Ownership rather than time alone, because a manager's
/// time is that of its last write of any field, to the second: the latest
/// is the wrong writer when two land in the same second or the last only
/// touched a label. `None` without managedFields.
pub fn change_cause(
    app: &EdgeApplication,
    previous: Option<&ControllerRevision>,
) -> Option<String> {
    let new = serde_json::to_value(&app.spec).unwrap_or_default();
    let old = previous.and_then(|r| r.data.as_ref()).map(|d| &d.0);
    let entries: Vec<Entry> = app
        .meta()
        .managed_fields
        .iter()
        .flatten()
        .filter(|m| m.subresource.as_deref().unwrap_or_default().is_empty())
        .filter_map(|m| {
            let spec = m.fields_v1.as_ref()?.0.get("f:spec")?;
            Some((m.manager.as_deref()?, m.time.as_ref().map(|t| t.0), spec))
        })
        .collect();
    let latest = |entries: Vec<&Entry>| {
        entries
            .into_iter()
            .max_by_key(|e| e.1)
            .map(|e| e.0.to_owned())
    };
    let depths: Vec<(usize, &Entry)> = old
        .map(|old| {
            entries
                .iter()
                .filter_map(|e| Some((owned_change_depth(e.2, old, &new)?, e)))
                .collect()
        })
        .unwrap_or_default();
    let deepest = depths.iter().map(|(d, _)| *d).max();
    let changed: Vec<_> = depths
        .iter()
        .filter(|(d, _)| Some(*d) == deepest)
        .map(|(_, e)| *e)
        .collect();
    latest(changed).or_else(|| latest(entries.iter().collect()))
}

/// How deep the deepest field of the fieldsV1 set `fields` lies whose value
/// differs between `old` and `new`, if it owns any. Deepest wins: a manager
/// that kept only a parent map (`f:workloadTemplate: {}`) owns less of the
/// change than the one owning `f:manifests` inside it. List members (`k:`,
/// `v:`, `i:` keys) count as the whole list.
fn owned_change_depth(fields: &Value, old: &Value, new: &Value) -> Option<usize> {
    let map = fields.as_object()?;
    map.iter()
        .filter_map(|(key, sub)| {
            if key == "." {
                return None;
            }
            let Some(name) = key.strip_prefix("f:") else {
                return (old != new).then_some(1);
            };
            let (o, n) = (
                old.get(name).unwrap_or(&Value::Null),
                new.get(name).unwrap_or(&Value::Null),
            );
            if o == n {
                return None;
            }
            let leaf = sub.as_object().is_none_or(|m| m.keys().all(|k| k == "."));
            if leaf {
                Some(1)
            } else {
                owned_change_depth(sub, o, n).map(|d| d + 1)
            }
        })
        .max()
}

/// The revision to create for `app`, or `None` when its spec is the newest
/// revision's (nothing changed: nothing is written).
pub fn to_record(
    app: &EdgeApplication,
    existing: &[ControllerRevision],
) -> Option<ControllerRevision> {
    let hash = spec_hash(&app.spec);
    let latest = newest(existing);
    if latest.is_some_and(|r| r.annotations().get(HASH_ANNOTATION) == Some(&hash)) {
        return None;
    }
    let next = latest.map_or(1, |r| number(r) + 1);
    let name = app.name_any();
    let owner = OwnerReference {
        api_version: EdgeApplication::api_version(&()).into_owned(),
        kind: EdgeApplication::kind(&()).into_owned(),
        name: name.clone(),
        uid: app.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let mut annotations = std::collections::BTreeMap::from([(HASH_ANNOTATION.to_owned(), hash)]);
    if let Some(cause) = change_cause(app, latest) {
        annotations.insert(CAUSE_ANNOTATION.to_owned(), cause);
    }
    Some(ControllerRevision {
        metadata: ObjectMeta {
            name: Some(format!("{name}-{next}")),
            namespace: app.namespace(),
            labels: Some([(APP_LABEL.to_owned(), name)].into()),
            annotations: Some(annotations),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(
            serde_json::to_value(&app.spec).unwrap_or_default(),
        )),
        revision: next,
    })
}

/// The names of the revisions past the newest `keep`, oldest first.
pub fn to_prune(revisions: &[ControllerRevision], keep: usize) -> Vec<String> {
    let mut sorted: Vec<&ControllerRevision> = revisions.iter().collect();
    sorted.sort_by_key(|r| number(r));
    let excess = sorted.len().saturating_sub(keep);
    sorted[..excess].iter().map(|r| r.name_any()).collect()
}

/// The spec a revision holds.
pub fn spec_of(revision: &ControllerRevision) -> Result<EdgeApplicationSpec, String> {
    let data = revision
        .data
        .as_ref()
        .ok_or_else(|| format!("revision {} holds no data", number(revision)))?;
    serde_json::from_value(data.0.clone()).map_err(|e| {
        format!(
            "revision {} is not an EdgeApplication spec: {e}",
            number(revision)
        )
    })
}

/// The spec as YAML, the form history shows and diffs.
pub fn spec_yaml(spec: &EdgeApplicationSpec) -> String {
    serde_yaml_ng::to_string(spec).unwrap_or_default()
}

/// A unified diff (3 lines of context) from revision `a` to revision `b`;
/// empty when both hold the same spec.
pub fn diff(a: (i64, &EdgeApplicationSpec), b: (i64, &EdgeApplicationSpec)) -> String {
    let (old, new) = (spec_yaml(a.1), spec_yaml(b.1));
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("revision {}", a.0), &format!("revision {}", b.0))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry, Time};
    use serde_json::json;

    fn app(image: &str) -> EdgeApplication {
        let spec = serde_json::from_value(json!({"workloadTemplate": {"manifests": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}]}}))
        .unwrap();
        let mut app = EdgeApplication::new("web", spec);
        app.metadata.namespace = Some("edge".into());
        app.metadata.uid = Some("uid-1".into());
        app
    }

    fn history(images: &[&str]) -> Vec<ControllerRevision> {
        let mut out = Vec::new();
        for image in images {
            if let Some(r) = to_record(&app(image), &out) {
                out.push(r);
            }
        }
        out
    }

    #[test]
    fn the_first_spec_is_revision_one_owned_and_labelled() {
        let r = to_record(&app("nginx:1"), &[]).expect("a first revision");
        assert_eq!(r.revision, 1);
        assert_eq!(r.metadata.name.as_deref(), Some("web-1"));
        assert_eq!(r.metadata.namespace.as_deref(), Some("edge"));
        assert_eq!(r.labels()[APP_LABEL], "web");
        let owner = &r.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("EdgeApplication", "uid-1")
        );
        assert_eq!(spec_of(&r).unwrap(), app("nginx:1").spec);
    }

    #[test]
    fn an_unchanged_spec_records_nothing_and_a_change_the_next_number() {
        let revisions = history(&["nginx:1", "nginx:2"]);
        assert_eq!(revisions.iter().map(number).collect::<Vec<_>>(), [1, 2]);
        assert!(to_record(&app("nginx:2"), &revisions).is_none());
        // Back to an older spec is a new revision: the newest is what runs.
        let back = to_record(&app("nginx:1"), &revisions).expect("a revision");
        assert_eq!(back.revision, 3);
    }

    #[test]
    fn pruning_keeps_the_newest_and_drops_the_oldest_first() {
        let images: Vec<String> = (1..=12).map(|i| format!("nginx:{i}")).collect();
        let refs: Vec<&str> = images.iter().map(String::as_str).collect();
        let mut revisions = history(&refs);
        revisions.reverse(); // the order of a list is not the order of numbers
        assert_eq!(to_prune(&revisions, KEEP), ["web-1", "web-2"]);
        assert!(to_prune(&revisions[..KEEP], KEEP).is_empty());
    }

    #[test]
    fn the_cause_is_the_owner_of_the_changed_field_else_the_last_writer() {
        let mut a = app("nginx:1");
        let entry = |manager: &str, at: &str, fields: serde_json::Value, sub: Option<&str>| {
            ManagedFieldsEntry {
                manager: Some(manager.into()),
                time: Some(Time(at.parse().unwrap())),
                fields_v1: Some(FieldsV1(fields)),
                subresource: sub.map(Into::into),
                ..ManagedFieldsEntry::default()
            }
        };
        a.metadata.managed_fields = Some(vec![
            entry(
                "kubectl-create",
                "2026-01-01T00:00:00Z",
                json!({"f:spec": {}}),
                None,
            ),
            entry(
                "kubectl-edit",
                "2026-01-02T00:00:00Z",
                json!({"f:spec": {}}),
                None,
            ),
            entry(
                "edgedeck",
                "2026-01-03T00:00:00Z",
                json!({"f:status": {}}),
                Some("status"),
            ),
            entry(
                "labeller",
                "2026-01-04T00:00:00Z",
                json!({"f:metadata": {}}),
                None,
            ),
        ]);
        assert_eq!(change_cause(&a, None).as_deref(), Some("kubectl-edit"));
        let r = to_record(&a, &[]).unwrap();
        assert_eq!(r.annotations()[CAUSE_ANNOTATION], "kubectl-edit");
        assert_eq!(change_cause(&app("x"), None), None);

        // The creator touches a label in the same second "tester" changes
        // the image: the owner of the changed field is the cause, not
        // whichever entry sorts last.
        let before = to_record(&app("nginx:1"), &[]).unwrap();
        let mut b = app("nginx:2");
        let at = "2026-01-05T00:00:00Z";
        b.metadata.managed_fields = Some(vec![
            entry(
                "tester",
                at,
                json!({"f:spec": {"f:workloadTemplate": {"f:manifests": {}}}}),
                None,
            ),
            entry(
                "kubectl-create",
                at,
                json!({"f:metadata": {"f:labels": {}},
                    "f:spec": {".": {}, "f:workloadScope": {}, "f:workloadTemplate": {}}}),
                None,
            ),
        ]);
        assert_eq!(change_cause(&b, Some(&before)).as_deref(), Some("tester"));
        b.metadata.managed_fields.as_mut().unwrap().reverse();
        assert_eq!(change_cause(&b, Some(&before)).as_deref(), Some("tester"));
        // Nobody owns what changed: the last writer of the spec.
        b.metadata.managed_fields.as_mut().unwrap()[0].time =
            Some(Time("2026-01-05T00:00:01Z".parse().unwrap()));
        let same = to_record(&b, &[]).unwrap();
        assert_eq!(
            change_cause(&b, Some(&same)).as_deref(),
            Some("kubectl-create")
        );
    }

    #[test]
    fn the_diff_is_unified_and_shows_only_the_change() {
        let (one, two) = (app("nginx:1").spec, app("nginx:2").spec);
        let text = diff((1, &one), (2, &two));
        assert!(
            text.starts_with("--- revision 1\n+++ revision 2\n"),
            "{text}"
        );
        let removed: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with('-') && !l.starts_with("---"))
            .collect();
        let added: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .collect();
        assert_eq!(removed.len(), 1, "{text}");
        assert_eq!(added.len(), 1, "{text}");
        assert!(
            removed[0].ends_with("image: nginx:1") && added[0].ends_with("image: nginx:2"),
            "{text}"
        );
        assert_eq!(diff((1, &one), (3, &one)), "");
    }
}
