#!/usr/bin/env python3
"""Render a terminal capture with ANSI colours (`tmux capture-pane -e -p`) to a PNG.

    scripts/ansi_to_png.py CAPTURE.ans OUT.png [--cols 140] [--rows 40] [--font-size 15]

The input is a stream of text lines with SGR escape sequences (ESC [ ... m);
SGR state carries across lines, as tmux emits it. Supported: reset, bold,
dim, italic (drawn upright), underline, reverse, the 16 colours (30-37,
90-97, 40-47, 100-107), 256 colours (38;5;N / 48;5;N) and truecolor
(38;2;R;G;B / 48;2;R;G;B, also with ':' separators), default fg/bg (39/49).
Other escape sequences are skipped.

Each character occupies one cell of a fixed grid (two for East Asian wide
characters); box-drawing lines (U+2500-U+257F) are drawn as lines, not
glyphs, so they join across cells at any font size. Glyphs come from DejaVu
Sans Mono (Debian package fonts-dejavu-core), with DejaVu Sans as the
fallback for characters the monospace font lacks.
"""

import argparse
import re
import sys
import unicodedata

try:
    from PIL import Image, ImageDraw, ImageFont
except ImportError:  # pragma: no cover - reported to the user
    sys.exit("ansi_to_png.py: Pillow is missing (pip install pillow)")

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FONT_REGULAR = f"{FONT_DIR}/DejaVuSansMono.ttf"
FONT_BOLD = f"{FONT_DIR}/DejaVuSansMono-Bold.ttf"
FONT_FALLBACK = f"{FONT_DIR}/DejaVuSans.ttf"

# A dark terminal palette (One Half Dark): readable on screens and in print.
DEFAULT_FG = (220, 223, 228)
DEFAULT_BG = (40, 44, 52)
PALETTE16 = [
    (40, 44, 52),     # 0 black (same as the background)
    (224, 108, 117),  # 1 red
    (152, 195, 121),  # 2 green
    (229, 192, 123),  # 3 yellow
    (97, 175, 239),   # 4 blue
    (198, 120, 221),  # 5 magenta
    (86, 182, 194),   # 6 cyan
    (220, 223, 228),  # 7 white
    (110, 118, 132),  # 8 bright black (grey)
    (240, 130, 140),  # 9 bright red
    (175, 215, 145),  # 10 bright green
    (240, 210, 150),  # 11 bright yellow
    (130, 195, 250),  # 12 bright blue
    (215, 150, 235),  # 13 bright magenta
    (120, 205, 215),  # 14 bright cyan
    (255, 255, 255),  # 15 bright white
]


def color256(n):
    if n < 16:
        return PALETTE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    level = 8 + (n - 232) * 10
    return (level, level, level)


class Style:
    __slots__ = ("fg", "bg", "bold", "dim", "underline", "reverse")

    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None  # None: the default colour
        self.bg = None
        self.bold = False
        self.dim = False
        self.underline = False
        self.reverse = False

    def copy(self):
        s = Style()
        s.fg, s.bg = self.fg, self.bg
        s.bold, s.dim, s.underline, s.reverse = self.bold, self.dim, self.underline, self.reverse
        return s

    def colours(self):
        fg = self.fg if self.fg is not None else DEFAULT_FG
        bg = self.bg if self.bg is not None else DEFAULT_BG
        if self.reverse:
            fg, bg = bg, fg
        if self.dim:
            fg = tuple((f + b) // 2 for f, b in zip(fg, bg))
        return fg, bg


def extended_colour(params, i):
    """Parses 5;N or 2;R;G;B starting at params[i]; returns (colour, next index)."""
    if i < len(params) and params[i] == 5 and i + 1 < len(params):
        return color256(params[i + 1] % 256), i + 2
    if i < len(params) and params[i] == 2 and i + 3 < len(params):
        r, g, b = (min(255, max(0, v)) for v in params[i + 1:i + 4])
        return (r, g, b), i + 4
    return None, len(params)


def apply_sgr(style, text):
    # ':' sub-parameters (38:2::R:G:B or 38:5:N) are flattened to ';' form.
    parts = []
    for group in text.split(";") if text else ["0"]:
        if ":" in group:
            sub = [p for p in group.split(":")]
            if len(sub) >= 2 and sub[1] == "2" and len(sub) == 6:
                sub = sub[:2] + sub[3:]  # drop the colour-space id
            parts.extend(p for p in sub if p != "")
        else:
            parts.append(group)
    params = [int(p) if p.isdigit() else 0 for p in parts] or [0]
    i = 0
    while i < len(params):
        p = params[i]
        i += 1
        if p == 0:
            style.reset()
        elif p == 1:
            style.bold = True
        elif p == 2:
            style.dim = True
        elif p == 4:
            style.underline = True
        elif p == 7:
            style.reverse = True
        elif p == 22:
            style.bold = style.dim = False
        elif p == 24:
            style.underline = False
        elif p == 27:
            style.reverse = False
        elif 30 <= p <= 37:
            style.fg = PALETTE16[p - 30]
        elif 90 <= p <= 97:
            style.fg = PALETTE16[p - 90 + 8]
        elif 40 <= p <= 47:
            style.bg = PALETTE16[p - 40]
        elif 100 <= p <= 107:
            style.bg = PALETTE16[p - 100 + 8]
        elif p == 39:
            style.fg = None
        elif p == 49:
            style.bg = None
        elif p in (38, 48):
            colour, i = extended_colour(params, i)
            if colour is not None:
                if p == 38:
                    style.fg = colour
                else:
                    style.bg = colour
        # 3 (italic), 5 (blink), 9 (strike) and others: ignored


ESCAPE = re.compile(r"\x1b\[([0-9;:?]*)([@-~])|\x1b[()][0-9A-Za-z]|\x1b[=>]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def char_width(ch):
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def parse(data, cols, rows):
    """Returns a rows x cols grid of (char, Style)."""
    blank = Style()
    grid = [[(" ", blank) for _ in range(cols)] for _ in range(rows)]
    style = Style()
    for y, line in enumerate(data.split("\n")):
        if y >= rows:
            break
        x = 0
        pos = 0
        while pos < len(line):
            m = ESCAPE.match(line, pos)
            if m:
                if m.group(2) == "m":
                    apply_sgr(style, m.group(1))
                pos = m.end()
                continue
            ch = line[pos]
            pos += 1
            if ch in "\r\x07" or ch == "\x1b":
                continue
            if ch == "\t":
                x = (x // 8 + 1) * 8
                continue
            w = char_width(ch)
            if w == 0:
                continue
            if x + w <= cols:
                grid[y][x] = (ch, style.copy())
                if w == 2:
                    grid[y][x + 1] = ("", style.copy())
            x += w
        # Cells after the end of the line keep the current background, as
        # tmux trims trailing blanks only when they are default-coloured.
    return grid


# Box drawing: (left, right, up, down) line weights: 0 none, 1 light, 2 heavy, 3 double.
def _box_table():
    t = {}
    light = {
        "─": (1, 1, 0, 0), "│": (0, 0, 1, 1), "┌": (0, 1, 0, 1), "┐": (1, 0, 0, 1),
        "└": (0, 1, 1, 0), "┘": (1, 0, 1, 0), "├": (0, 1, 1, 1), "┤": (1, 0, 1, 1),
        "┬": (1, 1, 0, 1), "┴": (1, 1, 1, 0), "┼": (1, 1, 1, 1),
        "╭": (0, 1, 0, 1), "╮": (1, 0, 0, 1), "╰": (0, 1, 1, 0), "╯": (1, 0, 1, 0),
        "╴": (1, 0, 0, 0), "╶": (0, 1, 0, 0), "╵": (0, 0, 1, 0), "╷": (0, 0, 0, 1),
    }
    t.update(light)
    heavy = {
        "━": (2, 2, 0, 0), "┃": (0, 0, 2, 2), "┏": (0, 2, 0, 2), "┓": (2, 0, 0, 2),
        "┗": (0, 2, 2, 0), "┛": (2, 0, 2, 0), "┣": (0, 2, 2, 2), "┫": (2, 0, 2, 2),
        "┳": (2, 2, 0, 2), "┻": (2, 2, 2, 0), "╋": (2, 2, 2, 2),
    }
    t.update(heavy)
    double = {
        "═": (3, 3, 0, 0), "║": (0, 0, 3, 3), "╔": (0, 3, 0, 3), "╗": (3, 0, 0, 3),
        "╚": (0, 3, 3, 0), "╝": (3, 0, 3, 0), "╠": (0, 3, 3, 3), "╣": (3, 0, 3, 3),
        "╦": (3, 3, 0, 3), "╩": (3, 3, 3, 0), "╬": (3, 3, 3, 3),
    }
    t.update(double)
    return t


# Rounded corners (╭╮╰╯) are drawn square: at terminal sizes the difference is invisible.
BOX = _box_table()


def draw_box(draw, ch, x0, y0, cw, chh, colour):
    left, right, up, down = BOX[ch]
    cx = x0 + cw // 2
    cy = y0 + chh // 2
    x1, y1 = x0 + cw - 1, y0 + chh - 1
    lw = max(1, round(cw / 9))

    def hline(xa, xb, weight):
        if weight == 3:
            for off in (-lw, lw):
                draw.rectangle([xa, cy + off, xb, cy + off + lw - 1], fill=colour)
        else:
            w = lw * weight
            draw.rectangle([xa, cy - w // 2, xb, cy - w // 2 + w - 1], fill=colour)

    def vline(ya, yb, weight):
        if weight == 3:
            for off in (-lw, lw):
                draw.rectangle([cx + off, ya, cx + off + lw - 1, yb], fill=colour)
        else:
            w = lw * weight
            draw.rectangle([cx - w // 2, ya, cx - w // 2 + w - 1, yb], fill=colour)

    if left:
        hline(x0, cx, left)
    if right:
        hline(cx, x1, right)
    if up:
        vline(y0, cy, up)
    if down:
        vline(cy, y1, down)


class Glyphs:
    def __init__(self, size):
        for path in (FONT_REGULAR, FONT_BOLD):
            try:
                open(path, "rb").close()
            except OSError:
                sys.exit(f"ansi_to_png.py: font {path} is missing (apt-get install fonts-dejavu-core)")
        self.regular = ImageFont.truetype(FONT_REGULAR, size)
        self.bold = ImageFont.truetype(FONT_BOLD, size)
        try:
            self.fallback = ImageFont.truetype(FONT_FALLBACK, size)
        except OSError:
            self.fallback = None
        ascent, descent = self.regular.getmetrics()
        self.cell_w = round(self.regular.getlength("M"))
        self.cell_h = ascent + descent + 1
        self.ascent = ascent
        self._notdef = self._pixels("\ue000")  # private use: DejaVu has no glyph
        self._has = {}

    def _pixels(self, ch):
        img = Image.new("L", (self.cell_w * 2, self.cell_h))
        ImageDraw.Draw(img).text((0, 0), ch, font=self.regular, fill=255)
        return img.tobytes()

    def has(self, ch):
        """Whether the monospace font has a glyph for ch (not its missing-glyph box)."""
        if ch not in self._has:
            self._has[ch] = self._pixels(ch) != self._notdef
        return self._has[ch]

    def font_for(self, ch, bold):
        if self.has(ch) or self.fallback is None:
            return self.bold if bold else self.regular
        return self.fallback


def render(grid, glyphs, pad):
    rows, cols = len(grid), len(grid[0])
    cw, chh = glyphs.cell_w, glyphs.cell_h
    img = Image.new("RGB", (cols * cw + 2 * pad, rows * chh + 2 * pad), DEFAULT_BG)
    draw = ImageDraw.Draw(img)
    # Backgrounds first, so glyphs overhanging a cell are not cut by the next one.
    for y, row in enumerate(grid):
        for x, (ch, style) in enumerate(row):
            _, bg = style.colours()
            if bg != DEFAULT_BG:
                x0, y0 = pad + x * cw, pad + y * chh
                draw.rectangle([x0, y0, x0 + cw - 1, y0 + chh - 1], fill=bg)
    for y, row in enumerate(grid):
        for x, (ch, style) in enumerate(row):
            if ch in ("", " ") and not style.underline:
                continue
            fg, _ = style.colours()
            x0, y0 = pad + x * cw, pad + y * chh
            if ch in BOX:
                draw_box(draw, ch, x0, y0, cw, chh, fg)
            elif ch not in ("", " "):
                font = glyphs.font_for(ch, style.bold)
                if font is glyphs.fallback:
                    # Centre a proportional glyph in its cell(s).
                    width = cw * char_width(ch)
                    gx = x0 + (width - font.getlength(ch)) / 2
                else:
                    gx = x0
                draw.text((gx, y0 + 1), ch, font=font, fill=fg)
            if style.underline:
                uy = y0 + glyphs.ascent + 2
                draw.line([x0, uy, x0 + cw - 1, uy], fill=fg)
    return img


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture", help="file with the ANSI capture ('-' for standard input)")
    ap.add_argument("output", help="PNG to write")
    ap.add_argument("--cols", type=int, default=140)
    ap.add_argument("--rows", type=int, default=40)
    ap.add_argument("--font-size", type=int, default=15)
    ap.add_argument("--pad", type=int, default=8, help="margin in pixels")
    args = ap.parse_args()
    if args.capture == "-":
        data = sys.stdin.read()
    else:
        with open(args.capture, encoding="utf-8", errors="replace") as f:
            data = f.read()
    glyphs = Glyphs(args.font_size)
    grid = parse(data, args.cols, args.rows)
    img = render(grid, glyphs, args.pad)
    # A palette image is a fraction of the size and looks the same.
    img = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    img.save(args.output, optimize=True)


if __name__ == "__main__":
    main()
