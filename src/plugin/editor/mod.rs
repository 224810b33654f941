//! The plugin's window (egui, through nice-plug-egui): a scrolling piano roll of what Cantus
//! hears and what it is about to play, the mode as big buttons, the sampling and timing
//! controls, key and scale, a model and preset picker, and a status line.
//!
//! The editor only reads: the notes, playhead and engine health from the lock-free [`Display`]
//! the audio thread publishes, the parameters from [`CantusParams`], the loader's texts from
//! their mutexes (which the audio thread never touches). It changes the sound only as a musician
//! would: parameters through the host ([`ParamSetter`]), and the model path the loader watches.
//! So opening or closing it changes nothing in the sound.
//!
//! The window's logical size is kept in the parameters' persisted `editor-size` field; the host's
//! DPI scale reaches egui through nice-plug-egui (the host's scale factor, else the system's).

mod library;
mod roll;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use egui::{Color32, RichText, Sense, Stroke, vec2};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::{LogicalSize, NativeSize};
use nice_plug::editor::{HostMethods, SpawnedEditor};
use nice_plug::plugin::ParamValue;
use nice_plug::prelude::*;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{
    EguiEditor, EguiEditorHandle, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier,
    create_egui_editor,
};

use super::display::{Display, Snapshot};
use super::params::{CantusParams, PlayMode};
use super::preset_state::preset_values;
use library::Choice;
use roll::Shade;

/// The window's logical size until the musician resizes it.
pub const EDITOR_SIZE: (u32, u32) = (920, 660);

/// The smallest size that still shows every control.
const MIN_SIZE: LogicalSize<f32> = LogicalSize {
    width: 720.0,
    height: 520.0,
};

/// The roll scrolls smoothly at this frame rate.
const FRAME: Duration = Duration::from_millis(33);

/// Set by the standalone when there is no display to open a window on.
static HEADLESS: AtomicBool = AtomicBool::new(false);

/// Plugins made after this have no editor: for nice-plug's standalone without a display, which
/// would otherwise fail to open the window and exit with an error.
pub fn without_editor() {
    HEADLESS.store(true, Ordering::Relaxed);
}

/// The plugin's [`Editor`]: an egui editor made afresh each time the window opens, at the
/// persisted size (nice-plug makes the plugin's editor once, before the host restores the
/// state that holds the size).
pub struct CantusEditor {
    params: Arc<CantusParams>,
    display: Arc<Display>,
    /// The egui editor of the window open now, or last open.
    current: Mutex<Option<EguiEditor<App>>>,
}

impl CantusEditor {
    pub fn new(params: Arc<CantusParams>, display: Arc<Display>) -> Option<Self> {
        if HEADLESS.load(Ordering::Relaxed) {
            return None;
        }
        Some(Self {
            params,
            display,
            current: Mutex::new(None),
        })
    }

    fn egui_editor(&self) -> Option<EguiEditor<App>> {
        let (width, height) = *self.params.editor_size.lock().ok()?;
        let size = LogicalSize::new(width.max(1) as f64, height.max(1) as f64);
        let settings = EguiNiceSettings::new()
            .with_tile("Cantus")
            .with_resize_hint(ResizeHint::resizable().with_min_logical_size(MIN_SIZE))
            .with_repaint_poll_interval(FRAME);
        let app = App {
            params: self.params.clone(),
            display: self.display.clone(),
            gui: None,
            snapshot: Snapshot::default(),
            choices: Vec::new(),
            path: String::new(),
        };
        let state = EguiEditorState::from_size(size, 1.0);
        create_egui_editor(state, RepaintNotifier::new(), settings, app)
    }
}

impl Editor for CantusEditor {
    type Handle = EguiEditorHandle;

    fn spawn(
        &self,
        parent: Option<ParentWindowHandle>,
        wait_for_parent: bool,
        fallback_scale_factor: Option<f64>,
        gui_context: GuiContext,
        host: Option<HostMethods>,
    ) -> Result<SpawnedEditor<Self::Handle>, Box<dyn std::error::Error>> {
        let editor = self
            .egui_editor()
            .ok_or("the editor's size is unreadable")?;
        let spawned = editor.spawn(
            parent,
            wait_for_parent,
            fallback_scale_factor,
            gui_context,
            host,
        );
        if let Ok(mut current) = self.current.lock() {
            *current = Some(editor);
        }
        spawned
    }

    fn size(&self) -> NativeSize<u32> {
        let current = self.current.lock().ok();
        match current.as_ref().and_then(|c| c.as_ref()) {
            Some(editor) => editor.size(),
            None => self
                .egui_editor()
                .map_or(NativeSize::new(EDITOR_SIZE.0, EDITOR_SIZE.1), |e| e.size()),
        }
    }

    fn resize_hint(&self) -> ResizeHint {
        ResizeHint::resizable().with_min_logical_size(MIN_SIZE)
    }
}

/// The window's contents and the little it remembers between frames.
struct App {
    params: Arc<CantusParams>,
    display: Arc<Display>,
    /// Set while the window is open.
    gui: Option<GuiContext>,
    /// The last frame's reading of the display (its buffers reused).
    snapshot: Snapshot,
    /// The picker's entries, read when the window opens and on "Rescan".
    choices: Vec<Choice>,
    /// The path field.
    path: String,
}

impl NiceEguiApp for App {
    fn build(
        &mut self,
        _: egui::Context,
        gui: GuiContext,
        _: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui = Some(gui);
        self.path = text(&self.params.model_path);
        self.rescan();
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _: &mut nice_plug_egui::Frame) {
        self.display.read(&mut self.snapshot);
        let Some(gui) = self.gui.clone() else {
            return;
        };
        let setter = gui.param_setter();
        egui::CentralPanel::default().show(ui, |ui| {
            self.modes(ui, &setter);
            ui.add_space(6.0);
            let roll_height = (ui.available_height() - 250.0).max(140.0);
            self.roll(ui, roll_height);
            ui.add_space(6.0);
            self.controls(ui, &setter);
            ui.separator();
            self.models(ui, &gui);
            ui.separator();
            self.status(ui);
        });
        ui.ctx().request_repaint_after(FRAME);
    }

    fn resized(&mut self, size: nice_plug_egui::baseview::WindowSize) {
        if let Ok(mut kept) = self.params.editor_size.lock() {
            *kept = (
                size.logical.width.round() as u32,
                size.logical.height.round() as u32,
            );
        }
    }

    fn editor_closed(&mut self) {
        self.gui = None;
    }
}

impl App {
    /// The mode as four big buttons, and the on/off switch.
    fn modes(&self, ui: &mut egui::Ui, setter: &ParamSetter) {
        let mode = &self.params.mode;
        ui.horizontal(|ui| {
            for (index, name) in PlayMode::variants().iter().enumerate() {
                let selected = mode.value().to_index() == index;
                let button = egui::Button::new(RichText::new(*name).size(20.0))
                    .selected(selected)
                    .min_size(vec2(150.0, 40.0));
                if ui.add(button).clicked() {
                    set(setter, mode, PlayMode::from_index(index));
                }
            }
            ui.add_space(12.0);
            let enabled = &self.params.enabled;
            let mut on = enabled.value();
            if ui.checkbox(&mut on, "Enabled").changed() {
                set(setter, enabled, on);
            }
        });
    }

    /// The piano roll: the notes around the playhead, the lookahead's notes paler.
    fn roll(&self, ui: &mut egui::Ui, height: f32) {
        let size = vec2(ui.available_width(), height);
        let (area, _) = ui.allocate_exact_size(size, Sense::hover());
        let painter = ui.painter_at(area);
        painter.rect_filled(area, 4.0, Color32::from_rgb(24, 26, 32));
        let (view, rects) = roll::note_rects(&self.snapshot, area);
        // A faint line under each C, and the bar lines of 4/4 at this grid.
        for pitch in (view.low..=view.high).filter(|p| p % 12 == 0) {
            let y = view.y(pitch) + view.row_height();
            let line = [egui::pos2(area.left(), y), egui::pos2(area.right(), y)];
            painter.line_segment(line, Stroke::new(1.0, Color32::from_gray(50)));
        }
        let bar = 4.0 * f64::from(self.params.steps_per_quarter.value());
        let mut step = (view.first_step / bar).ceil() * bar;
        while step < view.first_step + view.steps {
            let x = view.x(step);
            let line = [egui::pos2(x, area.top()), egui::pos2(x, area.bottom())];
            painter.line_segment(line, Stroke::new(1.0, Color32::from_gray(45)));
            step += bar;
        }
        for note in &rects {
            painter.rect_filled(note.rect, 2.0, note.shade.colour());
        }
        let playhead = view.playhead(self.snapshot.playhead);
        painter.line_segment(playhead, Stroke::new(2.0, Color32::from_gray(220)));
        // The legend: a swatch of each colour (smaller than a note, for the screenshot test).
        let legend = [
            ("you", Shade::Player),
            ("Cantus", Shade::Cantus),
            ("coming", Shade::Upcoming),
            ("harmony", Shade::Harmony),
        ];
        let mut at = area.left_top() + vec2(8.0, 6.0);
        for (name, shade) in legend {
            let swatch = egui::Rect::from_min_size(at + vec2(0.0, 3.0), vec2(8.0, 8.0));
            painter.rect_filled(swatch, 1.0, shade.colour());
            let galley = painter.layout_no_wrap(
                name.to_string(),
                egui::FontId::proportional(13.0),
                Color32::from_gray(190),
            );
            let width = galley.size().x;
            painter.galley(at + vec2(12.0, 0.0), galley, Color32::from_gray(190));
            at.x += width + 28.0;
        }
    }

    /// Sliders for the sampling and timing parameters; key and scale pickers.
    fn controls(&self, ui: &mut egui::Ui, setter: &ParamSetter) {
        let p = &self.params;
        egui::Grid::new("controls")
            .num_columns(4)
            .spacing(vec2(16.0, 6.0))
            .show(ui, |ui| {
                slider(ui, "Temperature", &p.temperature, setter);
                slider(ui, "Density", &p.density, setter);
                ui.end_row();
                slider(ui, "Top K", &p.top_k, setter);
                slider(ui, "Steps per quarter", &p.steps_per_quarter, setter);
                ui.end_row();
                slider(ui, "Lookahead", &p.lookahead, setter);
                slider(ui, "Answer length", &p.answer_bars, setter);
                ui.end_row();
                ui.label("Key");
                enum_picker(ui, "key", &p.key, setter);
                ui.label("Scale");
                enum_picker(ui, "scale", &p.scale, setter);
                ui.end_row();
            });
    }

    /// The model and preset picker, and a path field for any other.
    fn models(&mut self, ui: &mut egui::Ui, gui: &GuiContext) {
        let current = text(&self.params.model_path);
        let shown = self
            .choices
            .iter()
            .find(|c| c.path == current)
            .map_or(current.clone(), |c| c.label.clone());
        let mut picked = None;
        ui.horizontal(|ui| {
            ui.label("Model");
            egui::ComboBox::from_id_salt("model")
                .selected_text(shown)
                .width(260.0)
                .show_ui(ui, |ui| {
                    for choice in &self.choices {
                        if ui
                            .selectable_label(choice.path == current, choice.label.as_str())
                            .clicked()
                        {
                            picked = Some(choice.path.clone());
                        }
                    }
                });
            if ui.button("Rescan").clicked() {
                self.rescan();
            }
            ui.label("Path");
            ui.add(egui::TextEdit::singleline(&mut self.path).desired_width(260.0));
            if ui.button("Load").clicked() {
                picked = Some(self.path.trim().to_string());
            }
        });
        if let Some(path) = picked {
            self.path = path.clone();
            self.load(&path, gui);
        }
    }

    /// Plays `path`: a preset's settings go to the parameters (as gestures, so the host records
    /// them), and the loader loads its model.
    fn load(&self, path: &str, gui: &GuiContext) {
        let is_preset = Path::new(path).extension().is_some_and(|e| e == "toml");
        if is_preset {
            match preset_values(Path::new(path)) {
                Ok((values, seed)) => {
                    self.apply(&values, gui);
                    if let Some(seed) = seed {
                        self.params.seed.store(seed, Ordering::Relaxed);
                    }
                    // The state then names a preset already applied: reopening keeps the
                    // musician's later changes (see `preset_state`).
                    store(&self.params.preset_applied, path);
                }
                Err(error) => store(&self.params.model_failure, &format!("{path}: {error}")),
            }
        }
        store(&self.params.model_path, path);
    }

    /// Sets each parameter `values` names, by id, through the host.
    fn apply(&self, values: &std::collections::BTreeMap<String, ParamValue>, gui: &GuiContext) {
        for (id, param, _) in self.params.param_map() {
            let plain = match values.get(&id) {
                Some(ParamValue::F32(v)) => *v,
                Some(ParamValue::I32(v)) => *v as f32,
                Some(ParamValue::Bool(v)) => f32::from(u8::from(*v)),
                _ => continue,
            };
            // Safety: `param` comes from this plugin's own parameter map, which outlives the
            // editor (both hold the same `Arc<CantusParams>`).
            unsafe {
                let normalized = param.preview_normalized(plain);
                gui.raw_begin_set_parameter(param);
                gui.raw_set_parameter_normalized(param, normalized);
                gui.raw_end_set_parameter(param);
            }
        }
    }

    fn rescan(&mut self) {
        let roots = library::search_roots(&text(&self.params.model_path));
        self.choices = library::choices(&roots);
    }

    /// The model's card, the engine's step time and lookahead fill, and the last failed load.
    fn status(&self, ui: &mut egui::Ui) {
        let snapshot = &self.snapshot;
        let card = text(&self.params.model_card);
        ui.label(RichText::new(card).strong());
        let latency = if snapshot.step_nanos == 0 {
            "step time: n/a".to_string()
        } else {
            format!("step time {:.2} ms", f64::from(snapshot.step_nanos) / 1e6)
        };
        ui.label(format!(
            "{latency} · lookahead {}/{} ready · {} late steps · {}",
            snapshot.ready,
            snapshot.lookahead,
            snapshot.late_steps,
            text(&self.params.model_status),
        ));
        let failure = text(&self.params.model_failure);
        if !failure.is_empty() {
            let red = Color32::from_rgb(255, 110, 100);
            ui.label(RichText::new(format!("last failed load: {failure}")).color(red));
        }
    }
}

/// One gesture setting `param` to `value`.
fn set<P: Param>(setter: &ParamSetter, param: &P, value: P::Plain) {
    setter.begin_set_parameter(param);
    setter.set_parameter(param, value);
    setter.end_set_parameter(param);
}

fn slider<P: Param>(ui: &mut egui::Ui, name: &str, param: &P, setter: &ParamSetter) {
    ui.label(name);
    ui.add(ParamSlider::for_param(param, setter).with_width(180.0));
}

/// A drop-down of an enum parameter's variants.
fn enum_picker<E: Enum + PartialEq + 'static>(
    ui: &mut egui::Ui,
    id: &str,
    param: &EnumParam<E>,
    setter: &ParamSetter,
) {
    let current = param.value().to_index();
    let names = E::variants();
    egui::ComboBox::from_id_salt(id)
        .selected_text(names.get(current).copied().unwrap_or_default())
        .show_ui(ui, |ui| {
            for (index, name) in names.iter().enumerate() {
                if ui.selectable_label(index == current, *name).clicked() {
                    set(setter, param, E::from_index(index));
                }
            }
        });
}

fn text(field: &Mutex<String>) -> String {
    field.lock().map(|t| t.clone()).unwrap_or_default()
}

fn store(field: &Mutex<String>, value: &str) {
    if let Ok(mut text) = field.lock() {
        *text = value.to_string();
    }
}
