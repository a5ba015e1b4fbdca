//go:build tools

// Package tools pins the kube-apiserver, kube-controller-manager and kubectl commands into
// this module's build list so that `go mod tidy` keeps every dependency they need.
// It is never compiled. The controller manager runs only its
// validatingadmissionpolicy-status-controller in e2e (type-checking warnings).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
