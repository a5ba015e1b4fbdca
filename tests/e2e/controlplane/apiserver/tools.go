//go:build tools

// Package tools pins the kube-apiserver command into this module's build list
// so that `go mod tidy` keeps every dependency it needs. It is never compiled.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
