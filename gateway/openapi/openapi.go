// Package openapi holds the OpenAPI 3.1 description of the Argus HTTP API
// (openapi.json, written by hand) and the static page that renders it for
// humans (docs.html, docs.js, docs.css), all embedded in the binary.
package openapi

import (
	"embed"
	_ "embed"
)

// Spec is the OpenAPI 3.1.0 document, served at GET /v1/openapi.json.
//
//go:embed openapi.json
var Spec []byte

// Docs holds docs.html, docs.js and docs.css, served at GET /docs and
// GET /docs/{file}.
//
//go:embed docs.html docs.js docs.css
var Docs embed.FS
