package main

import (
	"context"
	"encoding/json"
	"sync"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apiserver/pkg/admission"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/cel/environment"
)

// policyCase is one evaluation of one policy for one binding and one param. Objects are
// handed over as unstructured data (what a custom resource is, and what an AdmissionReview
// carries), so no defaulting or typed round trip is involved.
type policyCase struct {
	Policy      admissionregistrationv1.ValidatingAdmissionPolicy `json:"policy"`
	Object      json.RawMessage                                   `json:"object"`
	OldObject   json.RawMessage                                   `json:"oldObject"`
	Params      json.RawMessage                                   `json:"params"`
	Namespace   *corev1.Namespace                                 `json:"namespace"`
	Operation   string                                            `json:"operation"`
	Kind        schema.GroupVersionKind                           `json:"kind"`
	Resource    schema.GroupVersionResource                       `json:"resource"`
	SubResource string                                            `json:"subResource"`
	Name        string                                            `json:"name"`
	NamespaceOf string                                            `json:"namespaceName"`
	UserInfo    map[string]any                                    `json:"userInfo"`
	Options     json.RawMessage                                   `json:"options"`
	DryRun      bool                                              `json:"dryRun"`
}

var (
	compositionOnce     sync.Once
	compositionTemplate *plugincel.CompositionEnv
)

// The composition environment the VAP plugin builds once (validating/plugin.go).
func compositionEnv() *plugincel.CompositionEnv {
	compositionOnce.Do(func() {
		env, err := plugincel.NewCompositionEnv(plugincel.VariablesTypeName, environment.MustBaseEnvSet(version.MajorMinor(1, 35)))
		if err != nil {
			panic(err)
		}
		compositionTemplate = env
	})
	return compositionTemplate
}

var (
	statelessOnce sync.Once
	stateless     plugincel.Compiler
)

func statelessCompiler() plugincel.Compiler {
	statelessOnce.Do(func() { stateless = plugincel.NewCompiler(environment.MustBaseEnvSet(version.MajorMinor(1, 35))) })
	return stateless
}

type compilationErrors interface{ CompilationErrors() []error }

// compileValidator builds the Validator as validating/plugin.go compilePolicy does for v1.35,
// and returns the compile errors its filters recorded.
func compileValidator(policy *admissionregistrationv1.ValidatingAdmissionPolicy) (validating.Validator, []string) {
	spec := policy.Spec
	withAuthorizer := plugincel.OptionalVariableDeclarations{HasParams: spec.ParamKind != nil, HasAuthorizer: true}
	withoutAuthorizer := plugincel.OptionalVariableDeclarations{HasParams: spec.ParamKind != nil, HasAuthorizer: false}
	compiler := plugincel.NewCompositedCompilerFromTemplate(compositionEnv())

	variables := make([]plugincel.NamedExpressionAccessor, len(spec.Variables))
	for i, v := range spec.Variables {
		variables[i] = &validating.Variable{Name: v.Name, Expression: v.Expression}
	}
	var problems []string
	for _, v := range variables {
		if result := compiler.CompileAndStoreVariable(v, withAuthorizer, environment.StoredExpressions); result.Error != nil {
			problems = append(problems, result.Error.Error())
		}
	}
	// On create, kube-apiserver checks matchConditions with a compiler that has no variables
	// (pkg/apis/admissionregistration/validation validateMatchConditionsExpression).
	for i := range spec.MatchConditions {
		result := statelessCompiler().CompileCELExpression((*matchconditions.MatchCondition)(&spec.MatchConditions[i]),
			plugincel.OptionalVariableDeclarations{HasParams: spec.ParamKind != nil, HasAuthorizer: true}, environment.NewExpressions)
		if result.Error != nil {
			problems = append(problems, result.Error.Error())
		}
	}
	var matcher matchconditions.Matcher
	if len(spec.MatchConditions) > 0 {
		conditions := make([]plugincel.ExpressionAccessor, len(spec.MatchConditions))
		for i := range spec.MatchConditions {
			conditions[i] = (*matchconditions.MatchCondition)(&spec.MatchConditions[i])
		}
		filter := compiler.CompileCondition(conditions, withAuthorizer, environment.StoredExpressions)
		problems = append(problems, errorTexts(filter)...)
		matcher = matchconditions.NewMatcher(filter, spec.FailurePolicy, "policy", "validate", policy.Name)
	}
	validations := make([]plugincel.ExpressionAccessor, len(spec.Validations))
	messages := make([]plugincel.ExpressionAccessor, len(spec.Validations))
	for i, v := range spec.Validations {
		validations[i] = &validating.ValidationCondition{Expression: v.Expression, Message: v.Message, Reason: v.Reason}
		if v.MessageExpression != "" {
			messages[i] = &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression}
		}
	}
	audits := make([]plugincel.ExpressionAccessor, len(spec.AuditAnnotations))
	for i, a := range spec.AuditAnnotations {
		audits[i] = &validating.AuditAnnotationCondition{Key: a.Key, ValueExpression: a.ValueExpression}
	}
	validationFilter := compiler.CompileCondition(validations, withAuthorizer, environment.StoredExpressions)
	auditFilter := compiler.CompileCondition(audits, withAuthorizer, environment.StoredExpressions)
	messageFilter := compiler.CompileCondition(messages, withoutAuthorizer, environment.StoredExpressions)
	for _, filter := range []plugincel.ConditionEvaluator{validationFilter, auditFilter, messageFilter} {
		problems = append(problems, errorTexts(filter)...)
	}
	return validating.NewValidator(validationFilter, matcher, auditFilter, messageFilter, spec.FailurePolicy), problems
}

func errorTexts(filter plugincel.ConditionEvaluator) []string {
	var texts []string
	if withErrors, ok := filter.(compilationErrors); ok {
		for _, err := range withErrors.CompilationErrors() {
			texts = append(texts, err.Error())
		}
	}
	return texts
}

func unstructuredOrNil(raw json.RawMessage) (runtime.Object, error) {
	object, err := decodeObject(raw)
	if err != nil || object == nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: object}, nil
}

type noOpinion struct{}

func (noOpinion) Authorize(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
	return authorizer.DecisionNoOpinion, "", nil
}

func evaluatePolicyLine(line []byte) any {
	var c policyCase
	if err := json.Unmarshal(line, &c); err != nil {
		return inputError("policy case: " + err.Error())
	}
	object, err := unstructuredOrNil(c.Object)
	if err != nil {
		return inputError("object: " + err.Error())
	}
	oldObject, err := unstructuredOrNil(c.OldObject)
	if err != nil {
		return inputError("oldObject: " + err.Error())
	}
	params, err := unstructuredOrNil(c.Params)
	if err != nil {
		return inputError("params: " + err.Error())
	}
	options, err := unstructuredOrNil(c.Options)
	if err != nil {
		return inputError("options: " + err.Error())
	}
	if c.Namespace != nil {
		c.Namespace.TypeMeta = metav1.TypeMeta{} // a lister's objects carry no apiVersion/kind
	}
	validator, problems := compileValidator(&c.Policy)

	info := userFromJSON(c.UserInfo)
	attributes := admission.NewAttributesRecord(object, oldObject, c.Kind, c.NamespaceOf, c.Name, c.Resource,
		c.SubResource, admission.Operation(c.Operation), options, c.DryRun, info)
	versioned := &admission.VersionedAttributes{
		Attributes: attributes, VersionedKind: c.Kind, VersionedObject: object, VersionedOldObject: oldObject,
	}
	result := validator.Validate(context.Background(), c.Resource, versioned, params, c.Namespace,
		celconfig.RuntimeCELCostBudget, noOpinion{})

	decisions := []map[string]any{}
	for _, d := range result.Decisions {
		decisions = append(decisions, map[string]any{
			"action": string(d.Action), "evaluation": string(d.Evaluation), "message": d.Message, "reason": string(d.Reason),
		})
	}
	annotations := []map[string]any{}
	for _, a := range result.AuditAnnotations {
		annotations = append(annotations, map[string]any{"key": a.Key, "action": string(a.Action), "value": a.Value, "error": a.Error})
	}
	if problems == nil {
		problems = []string{}
	}
	return map[string]any{"decisions": decisions, "auditAnnotations": annotations, "compileErrors": problems}
}
