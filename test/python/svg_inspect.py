"""Parses an SVG document with xml.etree (a real XML parser: malformed output raises) and lists what is drawn.

stdin: the SVG text. stdout JSON: {"root": tag, "width": w, "height": h, "title": text,
  "elements": [{"tag": local tag name, "class": class, ...all attributes}, ...] for every element with a class,
  "texts": [every text element's text]}.
"""
import json
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def main():
    root = ET.fromstring(sys.stdin.buffer.read())
    assert root.tag == SVG + "svg", root.tag
    elements, texts = [], []
    for e in root.iter():
        tag = e.tag.replace(SVG, "")
        if tag == "text":
            texts.append("".join(e.itertext()))
        if e.get("class"):
            elements.append({"tag": tag, **e.attrib})
    title = root.find(SVG + "title")
    print(json.dumps({"root": "svg", "width": root.get("width"), "height": root.get("height"),
                      "title": title.text if title is not None else None, "elements": elements, "texts": texts}))


main()
