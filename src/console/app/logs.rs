//! The Pods and Logs keys: `p` (pods of the selected row), `l` (a pod's
//! log, or from a generated workload the pods to pick one from), the Logs
//! view's own keys, the chunks its stream sends back, and `ctrl-d` on a pod.

use super::*;
use crate::console::logs::{LogChunk, LogPane, LogRequest, LogTarget};
use crate::console::views::pods::{PodScope, PodsTable};

/// Where the Logs view scrolls to follow: past the end (drawing clamps it).
const FOLLOW: usize = usize::MAX / 2;

impl App {
    /// The pods a `p` on the selected row means.
    fn pod_scope(&self) -> Option<PodScope> {
        let screen = self.screen();
        match (&screen.view, self.selected_ref()) {
            (View::Regions, _) => {
                let ctx = self.ctx();
                let src = views::regions::RegionsTable::new(&ctx);
                let g = src.group(screen.table.selected_row()?)?;
                Some(PodScope::Group(g.name.clone()))
            }
            (_, Some(ObjRef::Node(n))) => Some(PodScope::Node(n)),
            (_, Some(ObjRef::NodeGroup(g))) => Some(PodScope::Group(g)),
            (_, Some(ObjRef::Workload(k))) => Some(PodScope::Workload {
                namespace: k.namespace.unwrap_or_else(|| "default".into()),
                name: k.name,
            }),
            (View::AppDetail { namespace, name }, _) => {
                let group = self.selected_group()?;
                let app = self.derived.app(namespace, name)?;
                // The app's workload in that group (one per manifest; the first).
                app.objects
                    .iter()
                    .filter(|o| o.target.as_deref() == Some(group.as_str()))
                    .filter_map(|o| o.key.as_ref())
                    .find(|k| matches!(k.kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet"))
                    .map(|k| PodScope::Workload {
                        namespace: k.namespace.clone().unwrap_or_else(|| "default".into()),
                        name: k.name.clone(),
                    })
            }
            _ => None,
        }
    }

    pub(super) fn open_pods(&mut self) {
        match self.pod_scope() {
            Some(scope) => self.push(View::Pods(scope)),
            None => self.info("select a region, node or generated workload to see its pods"),
        }
    }

    /// The pod under the cursor of a Pods view.
    pub(super) fn selected_pod(&self) -> Option<crate::console::model::pods::PodInfo> {
        let View::Pods(scope) = &self.screen().view else {
            return None;
        };
        let ctx = self.ctx();
        let src = PodsTable::new(&ctx, scope);
        src.pod(self.screen().table.selected_row()?).cloned()
    }

    pub(super) fn open_logs(&mut self) -> Vec<Effect> {
        if let Some(pod) = self.selected_pod() {
            let Some(container) = pod.containers.first().cloned() else {
                self.info(format!("{} has no container", pod.name));
                return Vec::new();
            };
            self.log_id += 1;
            let request = LogRequest {
                id: self.log_id,
                target: LogTarget {
                    namespace: pod.namespace.clone(),
                    pod: pod.name.clone(),
                    container,
                },
                follow: true,
                previous: false,
                tail: self.log_tail,
            };
            self.logs = Some(Box::new(LogPane::new(request.clone(), pod.containers)));
            self.push(View::Logs(request.target.clone()));
            self.screen_mut().scroll = FOLLOW;
            return vec![Effect::StreamLogs(request)];
        }
        match self.pod_scope() {
            // A workload has several pods: list them to pick one.
            Some(scope @ PodScope::Workload { .. }) => {
                self.push(View::Pods(scope));
                self.info("pick a pod, then l for its log");
            }
            _ => self.info("select a pod (p lists the pods of a row)"),
        }
        Vec::new()
    }

    /// A Logs-view key that changes the request: the stream starts again.
    pub(super) fn change_logs(&mut self, action: &Action) -> Vec<Effect> {
        self.log_id += 1;
        let id = self.log_id;
        let Some(pane) = self.logs.as_deref_mut() else {
            return Vec::new();
        };
        match action {
            Action::LogWrap => {
                pane.wrap = !pane.wrap;
                return Vec::new();
            }
            Action::LogFollow => pane.request.follow = !pane.request.follow,
            Action::LogPrevious => pane.request.previous = !pane.request.previous,
            Action::LogTail => pane.request.tail = pane.next_tail(),
            Action::LogContainer => match pane.next_container() {
                Some(c) => pane.request.target.container = c,
                None => {
                    self.info("the pod has one container");
                    return Vec::new();
                }
            },
            _ => return Vec::new(),
        }
        let request = pane.restart(id);
        let target = request.target.clone();
        let screen = self.screen_mut();
        screen.view = View::Logs(target);
        screen.scroll = FOLLOW;
        vec![Effect::StreamLogs(request)]
    }

    /// A chunk of the log stream; the view follows unless scrolled up.
    pub(super) fn on_log(&mut self, chunk: LogChunk) {
        let Some(pane) = self.logs.as_deref_mut() else {
            self.dirty = false;
            return;
        };
        if !pane.receive(chunk) {
            self.dirty = false;
            return;
        }
        if matches!(self.screen().view, View::Logs(_)) {
            let screen = self.screen_mut();
            if screen.scroll >= screen.text.max_scroll() {
                screen.scroll = FOLLOW;
            }
        }
    }

    /// Leaving the Logs view stops its stream.
    pub(super) fn leaving_logs(&mut self) -> Vec<Effect> {
        if matches!(self.screen().view, View::Logs(_)) && self.logs.take().is_some() {
            vec![Effect::StopLogs]
        } else {
            Vec::new()
        }
    }

    pub(super) fn log_pane(&self) -> Option<&LogPane> {
        self.logs.as_deref()
    }
}

impl App {
    /// The actions of pods and logs, before the views' own (see `normal`).
    pub(super) fn pods_and_logs(&mut self, action: &Action) -> Option<Vec<Effect>> {
        match action {
            Action::Pods => {
                self.open_pods();
                Some(Vec::new())
            }
            Action::Logs => Some(self.open_logs()),
            Action::LogFollow
            | Action::LogPrevious
            | Action::LogContainer
            | Action::LogTail
            | Action::LogWrap => Some(self.change_logs(action)),
            Action::Back if matches!(self.screen().view, View::Logs(_)) => {
                let effects = self.leaving_logs();
                if self.stack.len() > 1 {
                    self.flash = None;
                    self.stack.pop();
                    self.refresh_top();
                }
                Some(effects)
            }
            Action::Goto(kind) => {
                let effects = self.leaving_logs();
                self.goto(*kind);
                Some(effects)
            }
            _ => None,
        }
    }

    /// `ctrl-d` on a pod: its key and the version shown.
    pub(super) fn pod_to_delete(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<(ObjectKey, Option<String>)> {
        self.fleet
            .pods
            .iter()
            .find(|p| p.namespace == namespace && p.name == name)
            .map(|p| {
                (
                    ObjectKey::new("v1", "Pod", Some(namespace), name),
                    p.resource_version.clone(),
                )
            })
    }
}

impl App {
    /// The object the selected event is about, when the console knows it.
    pub(super) fn selected_event_object(&self) -> Option<ObjRef> {
        let ctx = self.ctx();
        let src = views::events::ClusterEventsTable::new(&ctx);
        let e = src.event(self.screen().table.selected_row()?)?;
        let (namespace, name) = (e.object_namespace.clone(), e.object.clone());
        let found = match e.kind.as_str() {
            "Node" => ObjRef::Node(name),
            "NodeGroup" => ObjRef::NodeGroup(name),
            "Pod" => ObjRef::Pod { namespace, name },
            "Service" => ObjRef::Service { namespace, name },
            "EdgeApplication" => ObjRef::App { namespace, name },
            "Deployment" | "StatefulSet" | "DaemonSet" => ObjRef::Workload(ObjectKey::new(
                "apps/v1",
                e.kind.clone(),
                Some(&namespace),
                name,
            )),
            _ => return None,
        };
        found.resolve(&self.fleet).is_some().then_some(found)
    }
}
