//! One connection to one cluster: the stores publishing fleets, the
//! in-process engine (per `--engine`), and the executor for writes. A
//! context switch shuts the session down and starts a new one.

use std::sync::Arc;

use kube::Client;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::controls::FleetControls;
use super::engine::{self, EngineConfig};
use super::executor::Executor;
use super::stores::{StoreInput, Stores, StoresConfig};
use crate::console::model::Fleet;

pub struct SessionOptions {
    pub stores: StoresConfig,
    pub engine: EngineConfig,
    pub readonly: bool,
}

pub struct Session {
    stores: Stores,
    executor: Executor,
    engine_cancel: CancellationToken,
    engine: JoinHandle<()>,
}

impl Session {
    /// Starts watching and (per the engine mode) the engine; fleets go to `out`.
    pub fn start(
        client: Client,
        options: SessionOptions,
        out: watch::Sender<Arc<Fleet>>,
    ) -> Session {
        let controls: Option<Arc<dyn FleetControls>> = options.stores.controls.clone();
        let stores = Stores::start(client.clone(), options.stores, out);
        let engine_cancel = CancellationToken::new();
        let engine = engine::spawn(
            client.clone(),
            options.engine,
            stores.input(),
            engine_cancel.clone(),
        );
        Session {
            stores,
            executor: Executor::new(client, options.readonly, controls),
            engine_cancel,
            engine,
        }
    }

    pub fn executor(&self) -> Executor {
        self.executor.clone()
    }

    /// Where to send inputs of the fleet builder.
    pub fn input(&self) -> tokio::sync::mpsc::UnboundedSender<StoreInput> {
        self.stores.input()
    }

    pub fn send(&self, input: StoreInput) {
        self.stores.send(input);
    }

    /// Stops the engine first (it releases the lease), then the watches.
    pub async fn shutdown(self) {
        self.engine_cancel.cancel();
        if let Err(e) = self.engine.await {
            tracing::error!(error = %e, "engine supervisor ended abnormally");
        }
        self.stores.shutdown().await;
    }
}
