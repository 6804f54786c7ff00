//! What the CRD the cluster actually serves keeps of a status, read now and
//! then. A cluster migrating from cloudcore may serve KubeEdge's CRDs, which
//! prune edgedeck's status extensions (see [`crate::engine::status_schema`]).

use std::fmt::Debug;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::Api;
use serde_json::Value;

use super::cluster::lock;
use crate::api::VERSION;

/// A CRD replaced under a running engine is noticed within this long (and
/// at once by a caller that calls [`ServedSchema::forget`] on a refusal).
const TTL: Duration = Duration::from_secs(60);

/// The reading `S` of one CRD's served `v1alpha1` schema, cached for [`TTL`].
pub struct ServedSchema<S> {
    crd: &'static str,
    parse: fn(&Value) -> S,
    /// Assumed when the CRD cannot be read (no permission, or not installed:
    /// then the status write fails anyway, and says why).
    fallback: S,
    read: Mutex<Option<(Instant, S)>>,
}

impl<S: Copy + PartialEq + Debug> ServedSchema<S> {
    pub fn new(crd: &'static str, parse: fn(&Value) -> S, fallback: S) -> Self {
        ServedSchema {
            crd,
            parse,
            fallback,
            read: Mutex::new(None),
        }
    }

    pub async fn get(&self, client: &Client) -> S {
        if let Some((at, schema)) = *lock(&self.read)
            && at.elapsed() < TTL
        {
            return schema;
        }
        let schema = self.read_now(client).await;
        *lock(&self.read) = Some((Instant::now(), schema));
        schema
    }

    pub fn forget(&self) {
        *lock(&self.read) = None;
    }

    async fn read_now(&self, client: &Client) -> S {
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let crd = match crds.get(self.crd).await {
            Ok(crd) => crd,
            Err(e) => {
                tracing::debug!(crd = self.crd, error = %e, "cannot read the served CRD; assuming edgedeck's");
                return self.fallback;
            }
        };
        let schema = crd
            .spec
            .versions
            .iter()
            .find(|v| v.name == VERSION)
            .and_then(|v| v.schema.as_ref())
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .and_then(|s| serde_json::to_value(s).ok());
        let Some(schema) = schema else {
            return self.fallback;
        };
        let read = (self.parse)(&schema);
        if read != self.fallback {
            tracing::info!(
                crd = self.crd,
                ?read,
                "the served CRD is not edgedeck's; status is reduced to what it keeps"
            );
        }
        read
    }
}
