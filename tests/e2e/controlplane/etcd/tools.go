//go:build tools

// Package tools pins the etcd server command into this module's build list so
// that `go mod tidy` keeps every dependency it needs. It is never compiled.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
