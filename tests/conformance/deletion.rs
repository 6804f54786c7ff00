//! Deletion: finalizers hold an object (the NodeGroup controller's does),
//! and owners take their dependents with them (the EdgeApplication's
//! generated objects), by the propagation policy asked for.

use kube::Client;
use serde_json::{Value, json};

use super::{APPS, Body, CONFIGMAPS, Pair, assert_same, call, edge_app, expect};
use crate::support::eventually;

/// What a DELETE answered: the object still there (kind, finalizers, marks),
/// or a Status.
fn deleted(reply: &Value) -> Value {
    let meta = &reply["metadata"];
    json!({
        "kind": reply["kind"],
        "status": reply.get("status").filter(|_| reply["kind"] == "Status"),
        "finalizers": meta.get("finalizers"),
        "deletionTimestamp set": meta.get("deletionTimestamp").is_some(),
        "deletionGracePeriodSeconds": meta.get("deletionGracePeriodSeconds"),
        "generation": meta.get("generation"),
    })
}

async fn exists(c: &Client, path: &str) -> bool {
    call(c, "GET", path, Body::None).await.code == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finalizer_holds_a_deleted_object_until_it_is_removed() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let mut app = edge_app("held");
            app["metadata"]["finalizers"] = json!(["example.com/hold"]);
            expect(&c, 201, "POST", APPS, Body::Json(app)).await;
            let path = format!("{APPS}/held");
            let answer = expect(&c, 200, "DELETE", &path, Body::None).await;
            let held = exists(&c, &path).await;
            // Still writable while held (a controller finishing its cleanup).
            let labelled = call(
                &c,
                "PATCH",
                &path,
                Body::Merge(json!({"metadata": {"labels": {"cleanup": "done"}}})),
            )
            .await;
            let again = expect(&c, 200, "DELETE", &path, Body::None).await;
            let release = call(
                &c,
                "PATCH",
                &path,
                Body::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await;
            json!({
                "DELETE": deleted(&answer), "still there": held,
                "label while deleting": [labelled.code, labelled.body["metadata"]["generation"]],
                "second DELETE": deleted(&again),
                "releasing the last finalizer": [release.code, release.body["kind"]],
                "gone": !exists(&c, &path).await,
            })
        })
        .await;
    assert_same("deletion held by a finalizer", &seen);
    assert_eq!(seen.0["DELETE"]["finalizers"], json!(["example.com/hold"]));
    assert_eq!(
        seen.0["DELETE"]["generation"], 2,
        "marking for deletion bumps the generation"
    );
    assert_eq!(seen.0["gone"], true);
}

/// An owner ConfigMap and one dependent (held by a finalizer if `held`,
/// blocking its owner's foreground deletion if `blocks`).
async fn family(c: &Client, name: &str, held: bool, blocks: bool) -> (String, String) {
    let owner = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
    let owner = expect(c, 201, "POST", CONFIGMAPS, Body::Json(owner)).await;
    let mut dependent = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": format!("{name}-dep"),
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": name,
                             "uid": owner["metadata"]["uid"], "blockOwnerDeletion": blocks}]}});
    if held {
        dependent["metadata"]["finalizers"] = json!(["example.com/hold"]);
    }
    expect(c, 201, "POST", CONFIGMAPS, Body::Json(dependent)).await;
    (
        format!("{CONFIGMAPS}/{name}"),
        format!("{CONFIGMAPS}/{name}-dep"),
    )
}

/// [`deleted`] for the ConfigMap owners below, whose generation only the
/// embedded server keeps (the difference `generation::only_some_kinds…` documents).
fn deleted_owner(reply: &Value) -> Value {
    let mut summary = deleted(reply);
    if let Some(map) = summary.as_object_mut() {
        map.remove("generation");
    }
    summary
}

fn with_policy(policy: &str) -> Body {
    Body::Json(json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_take_their_dependents_by_propagation_policy() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let mut out = json!({});

            let (owner, dependent) = family(&c, "background", false, true).await;
            let answer = expect(&c, 200, "DELETE", &owner, with_policy("Background")).await;
            eventually("the background dependent collected", || async {
                (!exists(&c, &dependent).await).then_some(())
            })
            .await;
            out["Background"] =
                json!({"DELETE": deleted_owner(&answer), "owner gone": !exists(&c, &owner).await});

            // A held dependent keeps its owner around only if it blocks it.
            for (name, blocks) in [("foreground-blocked", true), ("foreground", false)] {
                let (owner, dependent) = family(&c, name, true, blocks).await;
                let answer = expect(&c, 200, "DELETE", &owner, with_policy("Foreground")).await;
                let marked = eventually("the foreground dependent marked for deletion", || async {
                    let d = call(&c, "GET", &dependent, Body::None).await.body;
                    d["metadata"]
                        .get("deletionTimestamp")
                        .map(|_| d["metadata"]["finalizers"].clone())
                })
                .await;
                let owner_held = if blocks {
                    // Give a real garbage collector time to (wrongly) release it.
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    call(&c, "GET", &owner, Body::None).await.body["metadata"]["finalizers"].clone()
                } else {
                    eventually("the unblocked owner gone", || async {
                        (!exists(&c, &owner).await).then_some(())
                    })
                    .await;
                    json!("gone")
                };
                expect(
                    &c,
                    200,
                    "PATCH",
                    &dependent,
                    Body::Merge(json!({"metadata": {"finalizers": null}})),
                )
                .await;
                eventually("the foreground owner released", || async {
                    (!exists(&c, &owner).await && !exists(&c, &dependent).await).then_some(())
                })
                .await;
                out[name] = json!({"DELETE": deleted_owner(&answer), "dependent while held": marked,
                    "owner while the dependent is held": owner_held});
            }

            let (owner, dependent) = family(&c, "orphan", false, true).await;
            let answer = expect(&c, 200, "DELETE", &owner, with_policy("Orphan")).await;
            eventually("the orphan owner gone", || async {
                (!exists(&c, &owner).await).then_some(())
            })
            .await;
            let orphan = call(&c, "GET", &dependent, Body::None).await.body;
            out["Orphan"] = json!({"DELETE": deleted_owner(&answer),
                "dependent's owners": orphan["metadata"].get("ownerReferences")});
            out
        })
        .await;
    assert_same("propagation policies", &seen);
    assert_eq!(
        seen.0["foreground"]["DELETE"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    assert_eq!(
        seen.0["foreground-blocked"]["owner while the dependent is held"],
        json!(["foregroundDeletion"])
    );
    assert_eq!(seen.0["Orphan"]["DELETE"]["finalizers"], json!(["orphan"]));
    assert_eq!(seen.0["Orphan"]["dependent's owners"], Value::Null);
}
