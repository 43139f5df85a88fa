#!/usr/bin/env python3
# bgone — remove image backgrounds locally. GIMP 3 plug-in.
# SPDX-License-Identifier: Apache-2.0
"""Layer > Transparency > Remove Background… (also Filters > bgone).

Thin host side: reads each selected layer through GEGL as 8-bit straight RGBA, sends it to bgone's
worker (``python -m bgone.worker`` in bgone's own Python, through the ``bgone_client`` package the
installer copies next to this file) and applies the answer as a layer mask, a selection or a new
cut-out layer. Everything is computed first and only then applied, inside one undo group, so any
failure leaves the image exactly as it was.

PDB procedure ``plug-in-bgone-remove-background`` (usable non-interactively):
  model   string  a model name from bgone's models.json; "" = the best installed model
  refine  choice  none | fast | best (edge refinement)
  output  choice  mask (layer mask; replaces an existing one) | selection | layer (new layer
                  holding the cut-out with decontaminated edge colours)
If the image has a selection, only its bounding box (intersected with each layer) is processed;
outside it the result is background.

PDB procedure ``plug-in-bgone-refine-edges`` ("Refine Edges…", same menus): re-estimates each
selected layer's mask along its edges with the photo as a guide, then grows/feathers it:
  band    int     px of the band around hard edges; 0 = automatic
  grow    int     px; negative shrinks
  feather int     px
  output  choice  mask (the layer mask, refined in place) | layer (new cut-out layer)
With a selection, only selected pixels change (the selection is the engine's region, and GIMP
merges the result through the selection like any filter).

Standard library and GIMP's own GObject bindings only: never import numpy here.
"""

import os
import sys
import threading
import time

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, GimpUi, GLib, GObject  # noqa: E402

import bgone_client  # noqa: E402
from bgone_client import choices, layerops  # noqa: E402

PROC_NAME = "plug-in-bgone-remove-background"
REFINE_PROC_NAME = "plug-in-bgone-refine-edges"
# the settings' shared names (choices) with GIMP's mnemonic; "_O" is the dialogs' OK button
MODEL_LABEL, REFINE_LABEL = "_" + choices.MODEL_LABEL, "_" + choices.REFINE_LABEL
OUTPUT_LABEL = choices.OUTPUT_LABEL[:3] + "_" + choices.OUTPUT_LABEL[3:]
PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))


# ------------------------------------------------------------------------------------------------
# Pixels and rectangles (no GIMP calls): rectangles are (x, y, width, height) tuples


def process_region(offsets, size, selection_bounds):
    """The part of a layer to process, in layer coordinates, or None: nothing of it.

    ``offsets`` = the layer's (x, y) on the canvas, ``size`` = its (width, height),
    ``selection_bounds`` = the selection's (x1, y1, x2, y2) on the canvas, or None."""
    on_canvas = (offsets[0], offsets[1], size[0], size[1])
    selection = None
    if selection_bounds is not None:
        x1, y1, x2, y2 = selection_bounds
        selection = (x1, y1, x2 - x1, y2 - y1)
    region = layerops.process_region(on_canvas, selection)
    if region is None:
        return None
    return (region[0] - offsets[0], region[1] - offsets[1], region[2], region[3])


def crop(data, width, bpp, rect):
    """Rows ``rect`` (x, y, w, h) out of a packed ``width``-pixel-wide buffer of ``bpp`` bytes per
    pixel. Returns bytes; the whole buffer itself when ``rect`` covers all of it."""
    x, y, w, h = rect
    row = width * bpp
    if x == 0 and w == width:
        start = y * row
        return bytes(data[start:start + h * row])
    mv = memoryview(data)
    out = bytearray(w * h * bpp)
    line = w * bpp
    for j in range(h):
        s = (y + j) * row + x * bpp
        out[j * line:(j + 1) * line] = mv[s:s + line]
    return bytes(out)


def canvas_clip(layer_offsets, region, canvas_size):
    """Where a layer-local ``region`` lands on the canvas, clipped to the canvas.

    Returns (canvas_rect, sub_rect) — ``sub_rect`` relative to the region — or None when the
    region is entirely off the canvas."""
    on_canvas = (layer_offsets[0] + region[0], layer_offsets[1] + region[1], region[2], region[3])
    clipped = layerops.intersect(on_canvas, (0, 0, canvas_size[0], canvas_size[1]))
    if clipped is None:
        return None
    sub = (clipped[0] - on_canvas[0], clipped[1] - on_canvas[1], clipped[2], clipped[3])
    return clipped, sub


def paste_max(canvas, canvas_width, rect, data):
    """Put a one-byte-per-pixel ``data`` block at ``rect`` into ``canvas`` (a bytearray of
    ``canvas_width`` columns), keeping the larger value where something is already there."""
    x, y, w, h = rect
    for j in range(h):
        s = (y + j) * canvas_width + x
        new = data[j * w:(j + 1) * w]
        old = canvas[s:s + w]
        canvas[s:s + w] = bytes(map(max, old, new)) if any(old) else new


def normalize_choice(value, ids, default):
    """A choice argument's id; tolerant of case and of None/"" (= the default)."""
    if value is None or value == "":
        return default
    text = str(value).strip().lower()
    if text in ids:
        return text
    raise ValueError("'{}' is not one of: {}".format(value, ", ".join(ids)))


def overall_fraction(index, count, fraction):
    """Progress over ``count`` layers, ``index`` of them done, the current one at ``fraction``."""
    if count <= 0:
        return 1.0
    f = min(1.0, max(0.0, float(fraction)))
    return min(1.0, (index + f) / count)


class Job(object):
    """One layer to process: where, and (after compute) the worker's answer."""

    def __init__(self, layer, name, offsets, size, region):
        self.layer = layer
        self.name = name
        self.offsets = offsets
        self.size = size
        self.region = region  # layer-local (x, y, w, h), or None: nothing of it is selected
        self.result = None  # alpha bytes (w*h) or RGBA bytes (w*h*4) for ``region``


class UserError(Exception):
    """A problem the user can fix; str() is the message shown."""


def compute(worker, jobs, read_pixels, model, refine, output, progress=None):
    """Ask the worker for every job's result. ``read_pixels(job)`` returns the region's RGBA bytes.
    Nothing is applied here; every failure raises before the image is touched."""
    work = [j for j in jobs if j.region is not None]
    for i, job in enumerate(work):
        w, h = job.region[2], job.region[3]

        def on_progress(stage, fraction, message, _i=i, _name=job.name):
            if progress is not None:
                progress(overall_fraction(_i, len(work), fraction), choices.stage_text(stage, message), _name)

        job.result = worker.remove(read_pixels(job), w, h, model=model or None, refine=refine,
                                   output=layerops.REQUEST_OUTPUT[output], progress=on_progress)
    return jobs


def refine_all(worker, jobs, read, band, grow, feather, output, progress=None):
    """Refine Edges for every job: ``read(job)`` gives (RGBA, mask, region or None) for the
    whole layer. Nothing is applied here; every failure raises before the image is touched."""
    work = [j for j in jobs if j.region is not None]
    for i, job in enumerate(work):
        rgba, mask, region = read(job)

        def on_progress(stage, fraction, message, _i=i, _name=job.name):
            if progress is not None:
                progress(overall_fraction(_i, len(work), fraction), choices.stage_text(stage, message), _name)

        job.result = worker.refine(rgba, mask, job.size[0], job.size[1], region=region, band=band, grow=grow,
                                   feather=feather, output=layerops.REQUEST_OUTPUT[output], progress=on_progress)
    return jobs


# ------------------------------------------------------------------------------------------------
# GIMP


def _choice(items):
    c = Gimp.Choice.new()
    for n, (ident, label, help_text) in enumerate(items):
        c.add(ident, n, label, help_text)
    return c


def _layers_of(drawables):
    """The layers to work on: layers themselves, the layer of a layer mask; no duplicates."""
    layers, seen = [], set()
    for d in drawables or []:
        layer = d
        if isinstance(d, Gimp.LayerMask) or (hasattr(d, "is_layer_mask") and d.is_layer_mask()):
            layer = Gimp.Layer.from_mask(d)
        if not isinstance(layer, Gimp.Layer):
            raise UserError("bgone works on layers; '{}' is a channel. Select a layer and try again."
                            .format(d.get_name()))
        if layer.get_id() not in seen:
            seen.add(layer.get_id())
            layers.append(layer)
    if not layers:
        raise UserError("No layer is selected. Select the layer to cut out and try again.")
    return layers


def _selection_bounds(image):
    """The selection's (x1, y1, x2, y2) on the canvas, or None when nothing is selected."""
    res = Gimp.Selection.bounds(image)
    non_empty, x1, y1, x2, y2 = tuple(res)[-5:]
    return (x1, y1, x2, y2) if non_empty else None


def _make_jobs(image, layers):
    bounds = _selection_bounds(image)
    jobs = []
    for layer in layers:
        _, ox, oy = layer.get_offsets()
        size = (layer.get_width(), layer.get_height())
        jobs.append(Job(layer, layer.get_name(), (ox, oy), size, process_region((ox, oy), size, bounds)))
    if bounds is not None and all(j.region is None for j in jobs):
        raise UserError("The selection does not touch the selected layer. Select part of the "
                        "layer (or nothing: Select > None) and try again.")
    return jobs


def _read_pixels(job):
    x, y, w, h = job.region
    buf = job.layer.get_buffer()
    raw = buf.get(Gegl.Rectangle.new(x, y, w, h), 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.NONE)
    return raw if isinstance(raw, (bytes, bytearray)) else bytes(raw)


def _write(drawable, rect, fmt, data):
    buf = drawable.get_buffer()
    buf.set(Gegl.Rectangle.new(*rect), fmt, data)
    buf.flush()
    drawable.update(*rect)


def _layer_type(image):
    base = image.get_base_type()
    if base == Gimp.ImageBaseType.GRAY:
        return Gimp.ImageType.GRAYA_IMAGE
    if base == Gimp.ImageBaseType.INDEXED:
        return Gimp.ImageType.INDEXEDA_IMAGE
    return Gimp.ImageType.RGBA_IMAGE


def _plane(drawable, rect, fmt):
    raw = drawable.get_buffer().get(Gegl.Rectangle.new(*rect), 1.0, fmt, Gegl.AbyssPolicy.NONE)
    return raw if isinstance(raw, (bytes, bytearray)) else bytes(raw)


def _read_for_refine(image, bounds):
    """The reader refine_all() uses: the whole layer, its mask and, with a selection, the
    selection over the layer's rectangle (0 off the canvas)."""
    def read(job):
        whole = (0, 0) + tuple(job.size)
        region = None
        if bounds is not None:
            region = _plane(image.get_selection(), tuple(job.offsets) + tuple(job.size), "Y u8")
        return _plane(job.layer, whole, "R'G'B'A u8"), _plane(job.layer.get_mask(), whole, "Y u8"), region
    return read


def _apply_refined(image, jobs, output):
    """Write refined masks (through each mask's shadow buffer: one undoable change, merged
    through the selection like any GIMP filter) or new cut-out layers, in one undo group."""
    image.undo_group_start()
    try:
        for job in jobs:
            if job.region is None:
                continue
            w, h = job.size
            if output == "mask":
                mask = job.layer.get_mask()
                shadow = mask.get_shadow_buffer()
                shadow.set(Gegl.Rectangle.new(0, 0, w, h), "Y u8", job.result)
                shadow.flush()
                mask.merge_shadow(True)
                mask.update(0, 0, w, h)
            else:
                new = Gimp.Layer.new(image, "{} (edges refined)".format(job.name), w, h, _layer_type(image),
                                     100.0, Gimp.LayerMode.NORMAL)
                image.insert_layer(new, job.layer.get_parent(), image.get_item_position(job.layer))
                new.set_offsets(*job.offsets)
                _write(new, (0, 0, w, h), "R'G'B'A u8", job.result)
    finally:
        image.undo_group_end()
    Gimp.displays_flush()


def _apply(image, jobs, output):
    """Apply computed results, all inside one undo group."""
    image.undo_group_start()
    try:
        if output == "mask":
            for job in jobs:
                layer = job.layer
                if layer.get_mask() is not None:
                    layer.remove_mask(Gimp.MaskApplyMode.DISCARD)
                if not layer.has_alpha():
                    layer.add_alpha()
                mask = layer.create_mask(Gimp.AddMaskType.BLACK)
                layer.add_mask(mask)
                if job.region is not None:
                    _write(mask, job.region, "Y u8", job.result)
        elif output == "selection":
            # written through the selection's shadow buffer: converted from "Y u8" into the
            # selection's own format (a temporary channel + select_item would copy raw
            # values across different TRCs) and merged with an undo step
            iw, ih = image.get_width(), image.get_height()
            canvas = bytearray(iw * ih)
            for job in jobs:
                placed = canvas_clip(job.offsets, job.region, (iw, ih)) if job.region else None
                if placed is not None:
                    paste_max(canvas, iw, placed[0], crop(job.result, job.region[2], 1, placed[1]))
            selection = image.get_selection()
            shadow = selection.get_shadow_buffer()
            shadow.set(Gegl.Rectangle.new(0, 0, iw, ih), "Y u8", bytes(canvas))
            shadow.flush()
            selection.merge_shadow(True)
            selection.update(0, 0, iw, ih)
        else:  # new layer with the cut-out
            ltype = _layer_type(image)
            for job in jobs:
                if job.region is None:
                    continue
                x, y, w, h = job.region
                new = Gimp.Layer.new(image, "{} (background removed)".format(job.name), w, h, ltype, 100.0,
                                     Gimp.LayerMode.NORMAL)
                image.insert_layer(new, job.layer.get_parent(), image.get_item_position(job.layer))
                new.set_offsets(job.offsets[0] + x, job.offsets[1] + y)
                _write(new, (0, 0, w, h), "R'G'B'A u8", job.result)
    finally:
        image.undo_group_end()
    Gimp.displays_flush()


def _dialog(procedure, config, models, image, layers):
    """The interactive dialog; False when cancelled. Writes the choices into ``config``."""
    from gi.repository import Gtk

    GimpUi.init("bgone-remove-background")
    dialog = GimpUi.ProcedureDialog.new(procedure, config, "Remove Background")
    row = _model_row(Gtk, config, models)
    dialog.get_content_area().pack_start(row, False, False, 0)
    dialog.fill(["refine", "output"])
    ok = dialog.run()
    dialog.destroy()
    if not ok:
        return False
    output = normalize_choice(config.get_property("output"), choices.OUTPUTS, choices.DEFAULT_OUTPUT)
    masked = [lay.get_name() for lay in layers if lay.get_mask() is not None]
    if output == "mask" and masked and not _confirm_replace(Gtk, masked):
        return False
    return True


def _model_row(Gtk, config, models):  # noqa: N803 (the Gtk module, imported by the dialog)
    """The Model row: label and list side by side like GIMP's rows below it, the model's notes
    under them. The list is bound to the "model" setting both ways, so Reset (to the last used
    or the factory values) moves it too."""
    config.set_property("model", choices.pick_model(models, config.get_property("model")))
    combo = Gtk.ComboBoxText(hexpand=True)
    combo.append("", choices.default_model_label(models))
    for m in models:
        combo.append(m.get("name"), choices.model_label(m))
    combo.set_tooltip_text(choices.MODEL_HELP)
    notes = Gtk.Label(xalign=0.0)
    notes.set_line_wrap(True)
    notes.set_max_width_chars(60)

    def on_changed(_combo):
        m = next((m for m in models if m.get("name") == combo.get_active_id()), None)
        notes.set_text(choices.model_notes(m) if m else choices.default_model_notes(models))

    combo.connect("changed", on_changed)
    config.bind_property("model", combo, "active-id",
                         GObject.BindingFlags.BIDIRECTIONAL | GObject.BindingFlags.SYNC_CREATE)
    on_changed(combo)
    label = Gtk.Label(label=MODEL_LABEL, use_underline=True, xalign=0.0)
    label.set_mnemonic_widget(combo)
    line = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
    line.pack_start(label, False, False, 0)
    line.pack_start(combo, True, True, 0)
    row = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
    row.pack_start(line, False, False, 0)
    row.pack_start(notes, False, False, 0)
    row.set_border_width(12)
    row.show_all()
    return row


def _confirm_replace(Gtk, names):  # noqa: N803 (the Gtk module, imported by the dialog)
    """Asks whether bgone's mask may replace the layers' masks (the words Krita uses too)."""
    question, detail = choices.replace_mask_question(names)
    ask = Gtk.MessageDialog(message_type=Gtk.MessageType.QUESTION, buttons=Gtk.ButtonsType.NONE,
                            text=question, title=choices.REPLACE_MASK_TITLE)
    ask.add_button("_Cancel", Gtk.ResponseType.CANCEL)
    ask.add_button("_" + choices.REPLACE_MASK_BUTTON, Gtk.ResponseType.ACCEPT)
    ask.set_default_response(Gtk.ResponseType.ACCEPT)
    ask.format_secondary_text(detail)
    answer = ask.run()
    ask.destroy()
    return answer == Gtk.ResponseType.ACCEPT


def run(procedure, run_mode, image, drawables, config, data):
    # GIMP runs a new plug-in process per call: a shared worker keeps the model warm.
    worker = bgone_client.Worker(plugin_dir=PLUGIN_DIR, persistent=True)
    try:
        layers = _layers_of(drawables)
        if run_mode == Gimp.RunMode.INTERACTIVE:
            if not _dialog(procedure, config, worker.models(), image, layers):
                return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
        try:
            refine = normalize_choice(config.get_property("refine"), choices.REFINE_LEVELS, choices.DEFAULT_REFINE)
            output = normalize_choice(config.get_property("output"), choices.OUTPUTS, choices.DEFAULT_OUTPUT)
        except ValueError as e:
            raise UserError(str(e)) from None
        model = (config.get_property("model") or "").strip()
        jobs = _make_jobs(image, layers)
        Gimp.progress_init("Removing background…")
        t0 = time.perf_counter()
        compute(worker, jobs, _read_pixels, model, refine, output, _progress_bar(jobs))
        _apply(image, jobs, output)
        return _done(procedure, run_mode, worker, "Removed the background", t0)
    except (UserError, bgone_client.ClientError) as e:
        return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(str(e)))
    finally:
        _release(worker)


def _progress_bar(jobs):
    """GIMP's progress bar for a run over ``jobs``: the stage's text (with the layer's name
    when there are several), set only when it changes, and the fraction."""
    shown = {"text": None}

    def progress(fraction, text, name):
        label = "{}: {}".format(name, text) if len(jobs) > 1 else text
        if label != shown["text"]:
            shown["text"] = label
            Gimp.progress_set_text(label)
        Gimp.progress_update(fraction)

    return progress


def _done(procedure, run_mode, worker, what, t0):
    """Success: the last progress text says what was done, how long it took and on which
    device; the same line and the device are the procedure's return values (for scripts).
    Interactively, a GPU present but left idle is explained in a message once (again only if
    the reason changes): after that the done line still says "on the CPU"."""
    line = "{} {}.".format(what, choices.took_text(time.perf_counter() - t0, worker.last_device,
                                                   worker.last_gpu_unused))
    Gimp.progress_set_text(line)
    Gimp.progress_update(1.0)
    Gimp.progress_end()
    note = choices.gpu_note(worker.last_gpu_unused)
    if note and run_mode == Gimp.RunMode.INTERACTIVE and _first_time(note):
        Gimp.message("{}\n\n{}".format(line, note))
    result = procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())
    for i, value in enumerate((worker.last_device or "", line), 1):
        if result.length() > i:  # GIMP fills in the defaults
            result.remove(i)
        result.insert(i, GObject.Value(GObject.TYPE_STRING, value))
    return result


def _first_time(note):
    """True once per text of the idle-GPU note: remembered in the plug-in's own folder (a
    plug-in runs as a new process each time, so it has no memory of its own)."""
    mark = os.path.join(PLUGIN_DIR, "gpu-note-shown.txt")
    try:
        with open(mark, encoding="utf-8") as f:
            if f.read() == note:
                return False
    except OSError:
        pass
    try:
        with open(mark, "w", encoding="utf-8") as f:
            f.write(note)
    except OSError:
        pass  # a read-only plug-in folder: shown every time rather than never
    return True


def _add_return_values(procedure):
    procedure.add_string_return_value(
        "device", "Device", "The device that ran the model (cpu, cuda, dml, coreml; Refine Edges: cpu)", "",
        GObject.ParamFlags.READWRITE)
    procedure.add_string_return_value(
        "status", "Status", "What was done, how long it took and on which device", "",
        GObject.ParamFlags.READWRITE)


def _int_setting(config, name):
    try:
        return int(config.get_property(name) or 0)
    except (TypeError, ValueError):
        raise UserError("{} must be a whole number of pixels.".format(name.capitalize())) from None


def run_refine(procedure, run_mode, image, drawables, config, data):
    worker = bgone_client.Worker(plugin_dir=PLUGIN_DIR, persistent=True)
    try:
        layers = _layers_of(drawables)
        missing = [lay.get_name() for lay in layers if lay.get_mask() is None]
        if missing:
            raise UserError(choices.no_mask_message(missing))
        if run_mode == Gimp.RunMode.INTERACTIVE:
            GimpUi.init("bgone-refine-edges")
            dialog = GimpUi.ProcedureDialog.new(procedure, config, choices.REFINE_EDGES_LABEL)
            dialog.fill(["band", "grow", "feather", "output"])
            ok = dialog.run()
            dialog.destroy()
            if not ok:
                return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
        try:
            output = normalize_choice(config.get_property("output"), choices.REFINE_OUTPUTS,
                                      choices.DEFAULT_REFINE_OUTPUT)
        except ValueError as e:
            raise UserError(str(e)) from None
        band, grow, feather = (_int_setting(config, n) for n in ("band", "grow", "feather"))
        bounds = _selection_bounds(image)
        jobs = _make_jobs(image, layers)
        Gimp.progress_init(choices.REFINE_PROGRESS_TEXT)
        t0 = time.perf_counter()
        refine_all(worker, jobs, _read_for_refine(image, bounds), choices.band_or_auto(band), grow, feather,
                   output, _progress_bar(jobs))
        _apply_refined(image, jobs, output)
        return _done(procedure, run_mode, worker, "Refined the edges", t0)
    except (UserError, bgone_client.ClientError) as e:
        return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(str(e)))
    finally:
        _release(worker)


def _release(worker):
    """Stop the worker without making the user wait for it: close() (polite shutdown, then
    kill) runs in a daemon thread; if the plug-in exits first, the worker sees its stdin
    close and exits by itself."""
    t = threading.Thread(target=worker.close, name="bgone-close", daemon=True)
    t.start()
    t.join(0.05)


class BgoneRemoveBackground(Gimp.PlugIn):
    def do_query_procedures(self):
        return [PROC_NAME, REFINE_PROC_NAME]

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        refine = name == REFINE_PROC_NAME
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run_refine if refine else run,
                                            None)
        procedure.set_image_types("*")
        procedure.set_sensitivity_mask(
            Gimp.ProcedureSensitivityMask.DRAWABLE | Gimp.ProcedureSensitivityMask.DRAWABLES)
        procedure.set_menu_label(choices.REFINE_EDGES_LABEL + "…" if refine else "Remove Background…")
        procedure.add_menu_path("<Image>/Layer/Transparency")
        procedure.add_menu_path("<Image>/Filters/bgone")
        procedure.set_attribution("bgone", "bgone contributors", "2025")
        _add_return_values(procedure)
        if refine:
            procedure.set_documentation(
                "Refine the edges of the selected layers' masks (bgone, runs locally)",
                "Re-estimates each selected layer's mask along its edges with the photo as a guide "
                "(hair, fur, painted masks), then grows or feathers it. With a selection only the "
                "selected pixels change. Arguments: band (px, 0 = automatic), grow (px, negative "
                "shrinks), feather (px), output (mask, layer).", name)
            for ident, label, help_text, low, high, default in choices.REFINE_SETTINGS:
                procedure.add_int_argument(ident, "_" + label, help_text, low, high, default,
                                           GObject.ParamFlags.READWRITE)
            procedure.add_choice_argument(
                "output", OUTPUT_LABEL, choices.REFINE_OUTPUT_HELP, _choice(choices.REFINE_OUTPUT_CHOICES),
                choices.DEFAULT_REFINE_OUTPUT, GObject.ParamFlags.READWRITE)
            return procedure
        procedure.set_documentation(
            "Remove the background of the selected layers (bgone, runs locally)",
            "Finds the subject of each selected layer with a local neural network and adds a "
            "layer mask, replaces the selection, or adds a new cut-out layer. With a selection, "
            "only its bounding box is processed. Arguments: model (a bgone model name, empty "
            "for the default), refine (none, fast, best), output (mask, selection, layer).",
            name)
        procedure.add_string_argument(
            "model", MODEL_LABEL, choices.MODEL_HELP, "", GObject.ParamFlags.READWRITE)
        procedure.add_choice_argument(
            "refine", REFINE_LABEL, choices.REFINE_HELP,
            _choice(choices.REFINE_CHOICES), choices.DEFAULT_REFINE, GObject.ParamFlags.READWRITE)
        procedure.add_choice_argument(
            "output", OUTPUT_LABEL, choices.OUTPUT_HELP,
            _choice(choices.OUTPUT_CHOICES), choices.DEFAULT_OUTPUT, GObject.ParamFlags.READWRITE)
        return procedure


if __name__ == "__main__":
    Gimp.main(BgoneRemoveBackground.__gtype__, sys.argv)
