//! Connecting to a cluster the way kubectl does: `--kubeconfig`, then
//! `$KUBECONFIG`, then `~/.kube/config`, then in-cluster; `--context` picks one.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConnectError {
    #[error("reading kubeconfig {path}: {source}")]
    Read {
        path: String,
        source: kube::config::KubeconfigError,
    },
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    #[error("no kubeconfig found and not running in a cluster: {0}")]
    Infer(#[from] kube::config::InferConfigError),
    #[error("building client: {0}")]
    Client(#[from] kube::Error),
}

/// The client configuration for `kubeconfig` (or the default places) and `context`.
pub async fn config(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<Config, ConnectError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path).map_err(|source| ConnectError::Read {
                path: path.display().to_string(),
                source,
            })?;
            Ok(Config::from_custom_kubeconfig(file, &options).await?)
        }
        None if context.is_some() => Ok(Config::from_kubeconfig(&options).await?),
        None => Ok(Config::infer().await?),
    }
}

pub async fn client(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<Client, ConnectError> {
    Ok(Client::try_from(config(kubeconfig, context).await?)?)
}

/// Which kubeconfig file kubectl would read: `explicit`, else the first of
/// `$KUBECONFIG`, else `~/.kube/config` — for messages that name it.
pub fn kubeconfig_path(explicit: Option<&Path>) -> String {
    if let Some(path) = explicit {
        return path.display().to_string();
    }
    if let Some(first) = std::env::var_os("KUBECONFIG")
        .and_then(|v| std::env::split_paths(&v).find(|p| !p.as_os_str().is_empty()))
    {
        return first.display().to_string();
    }
    std::env::var_os("HOME")
        .map(|h| Path::new(&h).join(".kube/config").display().to_string())
        .unwrap_or_else(|| "~/.kube/config".into())
}

/// Why `context` cannot be used from `kubeconfig`, if it is not in it,
/// naming the file and what it does have.
pub fn missing_context(kubeconfig: Option<&Path>, context: &str) -> Option<String> {
    let file = match kubeconfig {
        Some(p) => Kubeconfig::read_from(p),
        None => Kubeconfig::read(),
    };
    let path = kubeconfig_path(kubeconfig);
    match file {
        Ok(k) if k.contexts.iter().any(|c| c.name == context) => None,
        Ok(k) => {
            let names: Vec<&str> = k.contexts.iter().map(|c| c.name.as_str()).collect();
            Some(format!(
                "no context {context:?} in kubeconfig {path} (it has: {})",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ))
        }
        Err(e) => Some(format!("cannot read kubeconfig {path}: {e}")),
    }
}

/// What a client connects to: when the kubeconfig says something else, a
/// client built before is for another cluster (moved, or a new CA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub root_cert: Option<Vec<Vec<u8>>>,
}

impl From<&Config> for Endpoint {
    fn from(config: &Config) -> Endpoint {
        Endpoint {
            url: config.cluster_url.to_string(),
            root_cert: config.root_cert.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://127.0.0.1:6443"}
users:
- name: a
  user: {token: t}
contexts:
- name: prod
  context: {cluster: a, user: a}
- name: staging
  context: {cluster: a, user: a}
current-context: prod
"#;

    #[test]
    fn an_unknown_context_names_the_file_and_the_contexts_it_has() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        std::fs::write(&path, KUBECONFIG).expect("write");
        assert_eq!(missing_context(Some(&path), "prod"), None);
        let why = missing_context(Some(&path), "foo").expect("missing");
        assert!(why.contains(&path.display().to_string()), "{why}");
        assert!(why.contains("prod, staging"), "{why}");
        let gone = missing_context(Some(&dir.path().join("nope")), "prod").expect("unreadable");
        assert!(gone.starts_with("cannot read kubeconfig"), "{gone}");
    }
}
