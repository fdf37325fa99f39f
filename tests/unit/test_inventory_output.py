from __future__ import annotations

import json
from pathlib import Path

from swiftlib.inventory import load_inventory
from swiftlib.inventory.output import to_ansible_list, to_graph

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inventories"


def test_list_shape_and_empty_groups():
    data = to_ansible_list(load_inventory(FIXTURES / "09_empty_groups.ini"))
    assert data["all"] == {"children": ["ungrouped", "parent"]}
    assert data["parent"] == {"children": ["also_empty", "filled"]}
    assert data["also_empty"] == {"children": ["empty"]}
    assert "empty" not in data and "ungrouped" not in data  # Ansible drops groups with nothing in them
    assert data["_meta"] == {"hostvars": {}}
    json.dumps(data)


def test_list_with_limit_keeps_structure_filters_hosts():
    data = to_ansible_list(load_inventory(FIXTURES / "01_basic.ini"), limit="web")
    assert data["web"] == {"hosts": ["web1.example.com", "web2.example.com"]}
    assert "db" not in data and set(data["_meta"]["hostvars"]) == {"web1.example.com", "web2.example.com"}


def test_graph():
    assert to_graph(load_inventory(FIXTURES / "13_forward_children.ini")) == "\n".join([
        "@all:",
        "  |--@ungrouped:",
        "  |--@world:",
        "  |  |--@europe:",
        "  |  |  |--@france:",
        "  |  |  |  |--paris1",
        "  |  |  |  |--lyon1",
        "  |  |  |--@germany:",
        "  |  |  |  |--berlin1",
        "  |  |--@americas:",
        "  |  |  |--nyc1",
    ])
