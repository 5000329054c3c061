"""Geometry of the server-drawn radar SVG.

Quadrants split the circle into equal sectors clockwise from the top, rings are concentric
bands (ADOPT innermost), and SKIP is a strip below the circle because it is not a stage of
adoption. A blip's place inside its cell comes from a hash of its slug, so it stays put
between page loads and only moves when its ring or quadrant changes.
"""

import math
from dataclasses import dataclass, field

from .models import DRAWN_RINGS, RING_ORDER, Ring

WIDTH = 900
CENTRE_X = 450
CENTRE_Y = 330
# Outer radius of each drawn ring, innermost first.
RING_RADII = {Ring.ADOPT: 120, Ring.TRIAL: 200, Ring.ASSESS: 260, Ring.HOLD: 300}
SKIP_TOP = 660
SKIP_HEIGHT = 120
HEIGHT = SKIP_TOP + SKIP_HEIGHT + 10

MARK_LABELS = {"new": "new", "in": "moved in", "out": "moved out"}


def _point(angle_degrees, radius):
    """(x, y) at `angle_degrees` clockwise from 12 o'clock."""
    radians = math.radians(angle_degrees)
    return CENTRE_X + radius * math.sin(radians), CENTRE_Y - radius * math.cos(radians)


def movement(ring, baseline_ring):
    """'new', 'in', 'out' or '' for a blip now in `ring` that was in `baseline_ring`."""
    if baseline_ring is None:
        return "new"
    if baseline_ring == ring:
        return ""
    return "in" if RING_ORDER[ring] < RING_ORDER[baseline_ring] else "out"


@dataclass
class Blip:
    technique: object
    ring: str
    mark: str
    number: int = 0
    x: float = 0.0
    y: float = 0.0

    @property
    def mark_label(self):
        return MARK_LABELS.get(self.mark, "")

    @property
    def triangle(self):
        """SVG points of the triangle drawn for a moved blip (pointing the way it moved)."""
        tip = -14 if self.mark == "in" else 14
        base = -tip * 0.6
        return (
            f"{self.x:.1f},{self.y + tip:.1f} {self.x - 12:.1f},{self.y + base:.1f} "
            f"{self.x + 12:.1f},{self.y + base:.1f}"
        )


@dataclass
class Drawing:
    quadrants: list
    blips: list = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    centre_x: int = CENTRE_X
    centre_y: int = CENTRE_Y
    rings: list = field(default_factory=list)
    dividers: list = field(default_factory=list)
    quadrant_labels: list = field(default_factory=list)
    skip_columns: list = field(default_factory=list)
    skip_top: int = SKIP_TOP
    skip_height: int = SKIP_HEIGHT


def draw(entries, quadrants):
    """Lay out `entries` — (technique, ring, mark) triples — on the given quadrants.

    Blips are numbered by quadrant, ring and name so the table beside the radar can refer
    to them.
    """
    quadrants = list(quadrants)
    drawing = Drawing(quadrants=quadrants)
    for ring in DRAWN_RINGS:
        outer = RING_RADII[ring]
        drawing.rings.append(
            {"ring": ring, "label": ring.label, "radius": outer, "label_y": CENTRE_Y - outer + 14}
        )
    if not quadrants:
        return drawing
    span = 360 / len(quadrants)
    index_of = {quadrant.pk: index for index, quadrant in enumerate(quadrants)}
    if len(quadrants) > 1:
        for index in range(len(quadrants)):
            x, y = _point(index * span, RING_RADII[Ring.HOLD])
            drawing.dividers.append({"x": round(x, 1), "y": round(y, 1)})
    column_width = WIDTH / len(quadrants)
    for index, quadrant in enumerate(quadrants):
        x, y = _point((index + 0.5) * span, RING_RADII[Ring.HOLD] + 16)
        anchor = "middle" if abs(x - CENTRE_X) < 40 else ("start" if x > CENTRE_X else "end")
        drawing.quadrant_labels.append(
            {"name": quadrant.name, "x": round(x, 1), "y": round(y + 4, 1), "anchor": anchor}
        )
        drawing.skip_columns.append(
            {"name": quadrant.name, "x": round(index * column_width, 1), "width": column_width}
        )

    ordered = sorted(
        entries,
        key=lambda entry: (
            index_of.get(entry[0].quadrant_id, 0),
            RING_ORDER[entry[1]],
            entry[0].name.lower(),
        ),
    )
    for number, (technique, ring, mark) in enumerate(ordered, start=1):
        blip = Blip(technique=technique, ring=ring, mark=mark, number=number)
        along, across = technique.position_seed()
        index = index_of.get(technique.quadrant_id, 0)
        if ring == Ring.SKIP:
            blip.x = index * column_width + (0.08 + 0.84 * along) * column_width
            blip.y = SKIP_TOP + 30 + (0.1 + 0.8 * across) * (SKIP_HEIGHT - 45)
        else:
            outer = RING_RADII[ring]
            inner_edge = (
                0 if RING_ORDER[ring] == 0 else RING_RADII[DRAWN_RINGS[RING_ORDER[ring] - 1]]
            )
            # Keep blips off the dividers and ring lines so their marks stay readable.
            radius = inner_edge + (0.2 + 0.65 * across) * (outer - inner_edge)
            if inner_edge == 0:
                radius = max(radius, 28)
            angle = (index + 0.1 + 0.8 * along) * span
            blip.x, blip.y = _point(angle, radius)
        drawing.blips.append(blip)
    return drawing
