//! The real terminal: raw mode and the alternate screen on entry, and a
//! guaranteed restore on exit, on error (the guard's `Drop`) and on panic
//! (a hook that restores the terminal before the panic message prints).

use std::io::{self, Stdout, stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Once, OnceLock};
use std::thread::ThreadId;

use crossterm::cursor::Show;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::console::App;

/// Whether the TUI owns the terminal right now.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Whether the terminal reports the mouse to us (given back on restore).
static MOUSE: AtomicBool = AtomicBool::new(false);
/// The thread drawing the TUI.
static UI_THREAD: OnceLock<ThreadId> = OnceLock::new();
static HOOK: Once = Once::new();

/// Leaves raw mode and the alternate screen and shows the cursor; harmless when already done.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        if MOUSE.swap(false, Ordering::SeqCst) {
            let _ = execute!(stdout(), DisableMouseCapture);
        }
        let _ = disable_raw_mode();
        let _ = execute!(stdout(), LeaveAlternateScreen, Show);
    }
}

/// A panic on the UI thread restores the terminal, then prints as usual. A
/// panic in a background task is logged to the log file instead of being
/// printed over the TUI (tokio contains it to that task).
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let on_ui = UI_THREAD.get() == Some(&std::thread::current().id());
            if on_ui || !ACTIVE.load(Ordering::SeqCst) {
                restore();
                tracing::error!("panic: {info}");
                previous(info);
            } else {
                tracing::error!("panic in a background task: {info}");
            }
        }));
    });
}

pub struct Tui {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    mouse: bool,
}

impl Tui {
    /// Takes over the terminal (raw mode, alternate screen).
    pub fn enter() -> io::Result<Tui> {
        let _ = UI_THREAD.set(std::thread::current().id());
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        if let Err(e) = execute!(stdout(), EnterAlternateScreen) {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(stdout())) {
            Ok(terminal) => Ok(Tui {
                terminal,
                mouse: false,
            }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    pub fn draw(&mut self, app: &App) -> io::Result<()> {
        self.terminal.draw(|frame| app.draw(frame)).map(|_| ())
    }

    /// Gives the terminal back.
    pub fn leave(&mut self) {
        restore();
    }

    /// Mouse capture on or off. Off, the terminal keeps its own text selection.
    pub fn set_mouse(&mut self, on: bool) -> io::Result<()> {
        self.mouse = on;
        if on {
            execute!(stdout(), EnableMouseCapture)?;
        }
        MOUSE.store(on, Ordering::SeqCst);
        Ok(())
    }

    /// Gives the terminal to another program (`$EDITOR`) until [`Tui::resume`].
    pub fn suspend(&mut self) {
        restore();
    }

    /// Takes the terminal back after [`Tui::suspend`] and redraws everything.
    pub fn resume(&mut self) -> io::Result<()> {
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        execute!(stdout(), EnterAlternateScreen)?;
        self.set_mouse(self.mouse)?;
        // Not `Terminal::clear`: it asks the terminal where the cursor is,
        // and the answer can be lost while the key reader restarts. The
        // screen is cleared directly, and forgetting the last frame makes
        // the next draw write every cell.
        execute!(stdout(), Clear(ClearType::All))?;
        self.terminal.swap_buffers();
        Ok(())
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        restore();
    }
}
