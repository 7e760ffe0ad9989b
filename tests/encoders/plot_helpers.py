"""Reading the plots of app/encoders/plots.py back: the SVG's named groups, their markers and
legend texts, a PNG's size."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def svg_tree(data: bytes) -> ET.Element:
    """The SVG's root, comments kept (matplotlib writes each text's string as one)."""
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    parser.feed(data)
    return parser.close()


def groups(root: ET.Element) -> dict[str, ET.Element]:
    return {g.attrib["id"]: g for g in root.iter(f"{SVG}g") if "id" in g.attrib}


def legend_text(root: ET.Element, gid: str) -> str:
    """The string of the legend entry of series ``gid``."""
    group = groups(root)[f"legend:{gid}"]
    comments = [node.text for node in group.iter() if node.tag is ET.Comment]
    assert comments, f"legend:{gid} holds no text"
    return str(comments[0]).strip()


def marker_positions(group: ET.Element) -> list[tuple[float, float]]:
    """(x, y) of each marker (<use>) in a line's group, in SVG coordinates (y down)."""
    return [(float(u.attrib["x"]), float(u.attrib["y"])) for u in group.iter(f"{SVG}use")]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, chunk = struct.unpack(">I4s", data[8:16])
    assert (length, chunk) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height
