package onvifsrv

import (
	"strings"
	"testing"
)

func TestParseTreeNamespaces(t *testing.T) {
	doc := `<a:root xmlns:a="urn:a" xmlns="urn:default"><child x="1">` +
		`<b:leaf xmlns:b="urn:b">b:thing a:other plain</b:leaf></child><after> text </after></a:root>`
	root, err := parseTree([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if root.Name.Space != "urn:a" || root.child("child").Name.Space != "urn:default" {
		t.Fatalf("names %v %v", root.Name, root.child("child").Name)
	}
	leaf := path(root, "child", "leaf")
	if leaf.Name.Space != "urn:b" {
		t.Fatalf("leaf %v", leaf.Name)
	}
	var got []string
	for _, q := range strings.Fields(leaf.text()) {
		n, ok := leaf.resolve(q)
		got = append(got, n.Space+"|"+n.Local+"|"+btoa(ok))
	}
	if strings.Join(got, " ") != "urn:b|thing|true urn:a|other|true urn:default|plain|true" {
		t.Fatalf("resolved %v", got)
	}
	// b: is out of scope once its element closed.
	after := root.child("after")
	if _, ok := after.resolve("b:x"); ok {
		t.Fatal("prefix b leaked out of its element")
	}
	if after.text() != "text" {
		t.Fatalf("text %q", after.text())
	}
	if v, ok := root.child("child").attr("x"); !ok || v != "1" {
		t.Fatal("attribute lost")
	}
	if root.child("nope").child("deeper").text() != "" {
		t.Fatal("nil chain")
	}
}

func TestParseTreeRefuses(t *testing.T) {
	for _, doc := range []string{
		"", "text", "<a>", "<a></b>", "<a/><b/>", "<a/>text",
		`<!DOCTYPE a><a/>`,
		strings.Repeat("<a>", maxDepth+1) + strings.Repeat("</a>", maxDepth+1),
		"<r>" + strings.Repeat("<a/>", maxElements) + "</r>",
	} {
		if _, err := parseTree([]byte(doc)); err == nil {
			t.Errorf("accepted %.40q", doc)
		}
	}
}

func TestResponsesEscape(t *testing.T) {
	var b strings.Builder
	el("x:a", leaf("x:b", `<&">`)).attr("v", `"<&`).write(&b)
	root, err := parseTree([]byte(strings.Replace(b.String(), "<x:a", `<x:a xmlns:x="urn:x"`, 1)))
	if err != nil {
		t.Fatalf("%v: %s", err, b.String())
	}
	if v, _ := root.attr("v"); v != `"<&` || root.child("b").text() != `<&">` {
		t.Fatalf("round trip: %s", b.String())
	}
	if ftoa(-0.0000001) != "0" || ftoa(0.1+0.2) != "0.3" || ftoa(1e-9) != "0" {
		t.Fatalf("ftoa %s %s", ftoa(-0.0000001), ftoa(0.1+0.2))
	}
}
