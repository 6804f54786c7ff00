//! Bindings of pods, logs and events (issue #12): `p` lists the pods of
//! the selected row wherever a row has pods, `l` opens a log, and the Logs
//! view's own keys. `enter` keeps meaning "drill in" (describe on a pod,
//! as on a node), so `p` is the one key that means pods everywhere.

use super::Scope::*;
use super::{Binding, NONE, b};
use crate::console::action::Action;
use crossterm::event::KeyCode::Char;

pub(super) fn bindings() -> Vec<Binding> {
    let pods = "pods of the selected row";
    let mut out: Vec<Binding> = [Regions, Group, Nodes, AppDetail]
        .into_iter()
        .map(|scope| b(scope, Char('p'), NONE, "p", Action::Pods, pods).hint())
        .collect();
    #[rustfmt::skip]
    out.extend([
        b(Pods, Char('l'), NONE, "l", Action::Logs, "log of the selected pod").hint().short("logs"),
        b(AppDetail, Char('l'), NONE, "l", Action::Logs, "logs: pick a pod of the selected target's workload"),
        b(Logs, Char('f'), NONE, "f", Action::LogFollow, "follow on / off").hint(),
        b(Logs, Char('p'), NONE, "p", Action::LogPrevious, "previous (crashed) container on / off").hint(),
        b(Logs, Char('c'), NONE, "c", Action::LogContainer, "next container").hint(),
        b(Logs, Char('t'), NONE, "t", Action::LogTail, "tail length (100, 1000, 10000, all)").hint(),
        b(Logs, Char('w'), NONE, "w", Action::LogWrap, "wrap long lines on / off").hint(),
    ]);
    out
}
