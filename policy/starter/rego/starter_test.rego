package starter

test_entry_with_reason if {
	split_entry("probes: batch job, no port") == ["probes", "batch job, no port"]
}

test_entry_keeps_colons_in_the_reason if {
	split_entry("image-pinned: see https://example.com/x") == ["image-pinned", "see https://example.com/x"]
}

test_entry_without_reason if {
	split_entry("probes") == ["probes", ""]
}

test_entries_one_per_line if {
	entries := allow_entries with input as {"metadata": {"annotations": {"gantry.dev/allow": "probes: a\n\n  pdb : b  \nresources"}}}
	entries == {{"id": "probes", "reason": "a"}, {"id": "pdb", "reason": "b"}, {"id": "resources", "reason": ""}}
}

test_waiver_joins_reasons if {
	r := waiver("probes") with input as {"metadata": {"annotations": {"gantry.dev/allow": "probes: b\nprobes: a"}}}
	r == "a; b"
}

test_empty_selector_selects_every_pod if {
	selects({}, {"app": "web"})
}

test_selector_expressions if {
	selects({"matchExpressions": [{"key": "app", "operator": "Exists"}, {"key": "tier", "operator": "DoesNotExist"}]}, {"app": "web"})
	not selects({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, {"app": "web"})
	not selects({"matchLabels": {"app": "web", "tier": "db"}}, {"app": "web"})
}

test_image_tags if {
	image_tag("nginx:1.27") == "1.27"
	image_tag("registry:5000/team/nginx:v2") == "v2"
	not image_tag("registry:5000/team/nginx")
	not image_tag("nginx@sha256:0123")
}
