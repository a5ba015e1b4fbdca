//go:build tools

// Package tools pins the helm command into this module's build list so that
// `go mod tidy` keeps every dependency it needs. It is never compiled.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
