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
