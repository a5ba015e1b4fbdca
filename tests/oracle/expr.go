package main

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"

	celgo "github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/version"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/library"
)

// The variables `celgate eval` binds; a missing one is null, `variables` an empty map.
var objectVariables = []string{"object", "oldObject", "request", "params", "namespaceObject"}

// anyExpression is an expression of any result type (celgate eval accepts every type).
type anyExpression string

func (e anyExpression) GetExpression() string      { return string(e) }
func (e anyExpression) ReturnTypes() []*celgo.Type { return []*celgo.Type{celgo.AnyType} }

var (
	exprCompilerOnce sync.Once
	exprCompiler     plugincel.Compiler
)

// expressionCompiler is the VAP compiler (plugin/cel compile.go: object, oldObject, request,
// namespaceObject, params, authorizer, strict cost) on the v1.35 base environment, plus
// `variables` as dyn, which is how `celgate eval` declares it.
func expressionCompiler() plugincel.Compiler {
	exprCompilerOnce.Do(func() {
		base, err := environment.MustBaseEnvSet(version.MajorMinor(1, 35)).Extend(environment.VersionedOptions{
			IntroducedVersion: version.MajorMinor(1, 0),
			EnvOptions:        []celgo.EnvOption{celgo.Variable(plugincel.VariableVarName, celgo.DynType)},
		})
		if err != nil {
			panic(err)
		}
		exprCompiler = plugincel.NewCompiler(base)
	})
	return exprCompiler
}

type exprCase struct {
	Expr *string                    `json:"expr"`
	Vars map[string]json.RawMessage `json:"vars"`
}

func inputError(message string) map[string]any {
	return map[string]any{"error": message, "kind": "input"}
}

// costOfExpressionLine: cel-go's actual runtime cost of an expr line (the tracker's count, also
// when it cancelled the evaluation), for celgate's exact cost evaluator (runtime_cost.py).
func costOfExpressionLine(line []byte) any {
	answer, cost, cancelled := evaluateExpression(line)
	if errorAnswer, ok := answer.(map[string]any); ok && errorAnswer["kind"] == "input" || ok && errorAnswer["kind"] == "compile" {
		return answer
	}
	return map[string]any{"cost": cost, "cancelled": cancelled}
}

func evaluateExpressionLine(line []byte) any {
	answer, _, _ := evaluateExpression(line)
	return answer
}

func evaluateExpression(line []byte) (any, uint64, bool) {
	var c exprCase
	if err := json.Unmarshal(line, &c); err != nil || c.Expr == nil {
		return inputError(`expected an object with a string "expr"`), 0, false
	}
	activation := map[string]any{plugincel.VariableVarName: map[string]any{}}
	for _, name := range objectVariables {
		activation[name] = nil
	}
	var unknown []string
	for name, raw := range c.Vars {
		if _, declared := activation[name]; !declared {
			unknown = append(unknown, name)
			continue
		}
		value, err := decodeUnstructured(raw)
		if err != nil {
			return inputError("vars." + name + ": " + err.Error()), 0, false
		}
		activation[name] = value
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return inputError("unknown variable(s) " + strings.Join(unknown, ", ")), 0, false
	}
	request, _ := activation["request"].(map[string]any)
	for name, value := range authorizerBindings(request) {
		activation[name] = value
	}

	compiled := expressionCompiler().CompileCELExpression(anyExpression(*c.Expr),
		plugincel.OptionalVariableDeclarations{HasParams: true, HasAuthorizer: true}, environment.StoredExpressions)
	if compiled.Error != nil {
		return map[string]any{"error": strings.TrimPrefix(compiled.Error.Detail, "compilation failed: "), "kind": "compile"}, 0, false
	}
	value, details, err := compiled.Program.ContextEval(context.Background(), activation)
	var cost uint64
	if details != nil && details.ActualCost() != nil {
		cost = *details.ActualCost()
	}
	if err != nil {
		var cancelled interpreter.EvalCancelledError
		if errors.As(err, &cancelled) {
			return map[string]any{"error": err.Error(), "kind": "cost"}, cost, true
		}
		return map[string]any{"error": err.Error(), "kind": "runtime"}, cost, false
	}
	if optional, ok := value.(*types.Optional); ok {
		return renderOptional(optional), cost, false
	}
	return map[string]any{"value": render(value)}, cost, false
}

// authorizerBindings: an authorizer with no opinion on anything (RBAC without bindings) for
// request.userInfo (else anonymous), and authorizer.requestResource when request.resource is given.
func authorizerBindings(request map[string]any) map[string]any {
	info := &user.DefaultInfo{Name: "system:anonymous", Groups: []string{"system:unauthenticated"}}
	if userInfo, ok := request["userInfo"].(map[string]any); ok {
		if name, ok := userInfo["username"].(string); ok {
			info = userFromJSON(userInfo)
			info.Name = name
		}
	}
	bindings := map[string]any{plugincel.AuthorizerVarName: library.NewAuthorizerVal(info, noOpinion{})}
	if gvr, ok := request["resource"].(map[string]any); ok {
		if resource, ok := gvr["resource"].(string); ok {
			r := requestResource{
				gvr:         schema.GroupVersionResource{Group: str(gvr["group"]), Version: str(gvr["version"]), Resource: resource},
				subresource: str(request["subResource"]), namespace: str(request["namespace"]), name: str(request["name"]),
			}
			bindings[plugincel.RequestResourceAuthorizerVarName] = library.NewResourceAuthorizerVal(info, noOpinion{}, r)
		}
	}
	return bindings
}

func str(value any) string {
	s, _ := value.(string)
	return s
}

func userFromJSON(userInfo map[string]any) *user.DefaultInfo {
	info := &user.DefaultInfo{Name: str(userInfo["username"]), UID: str(userInfo["uid"])}
	if groups, ok := userInfo["groups"].([]any); ok {
		for _, g := range groups {
			info.Groups = append(info.Groups, str(g))
		}
	}
	if extra, ok := userInfo["extra"].(map[string]any); ok {
		info.Extra = map[string][]string{}
		for key, values := range extra {
			list, _ := values.([]any)
			for _, v := range list {
				info.Extra[key] = append(info.Extra[key], str(v))
			}
		}
	}
	return info
}

type requestResource struct {
	gvr                          schema.GroupVersionResource
	subresource, namespace, name string
}

func (r requestResource) GetName() string                          { return r.name }
func (r requestResource) GetNamespace() string                     { return r.namespace }
func (r requestResource) GetResource() schema.GroupVersionResource { return r.gvr }
func (r requestResource) GetSubresource() string                   { return r.subresource }
