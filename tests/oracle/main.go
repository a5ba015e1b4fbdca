// Command oracle answers CEL questions the way kube-apiserver v1.35 does, for celgate's
// differential tests: it runs k8s.io/apiserver's own ValidatingAdmissionPolicy CEL
// environment and validator on cel-go. It is a test oracle, never shipped.
//
//	oracle expr    < cases.jsonl   # {"expr": ..., "vars": {...}} per line, as `celgate eval --batch`
//	oracle policy  < cases.jsonl   # a whole policy evaluation per line (see policy.go)
//
// Every input line gives exactly one output line, in order.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 2 || (os.Args[1] != "expr" && os.Args[1] != "policy" && os.Args[1] != "cost") {
		fmt.Fprintln(os.Stderr, "usage: oracle expr|policy|cost < cases.jsonl")
		os.Exit(2)
	}
	answer := evaluateExpressionLine
	if os.Args[1] == "policy" {
		answer = evaluatePolicyLine
	}
	if os.Args[1] == "cost" {
		answer = costOfExpressionLine
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		line := in.Bytes()
		if len(trimSpace(line)) == 0 {
			continue
		}
		encoded, err := json.Marshal(answerSafely(answer, line))
		if err != nil {
			encoded, _ = json.Marshal(map[string]any{"error": "oracle: cannot encode result: " + err.Error(), "kind": "input"})
		}
		out.Write(encoded)
		out.WriteByte('\n')
		out.Flush()
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "oracle:", err)
		os.Exit(1)
	}
}

// answerSafely turns a panic inside cel-go or the apiserver code into an answer of kind
// "panic" (kube-apiserver's handlers would recover it into an internal error).
func answerSafely(answer func([]byte) any, line []byte) (result any) {
	defer func() {
		if r := recover(); r != nil {
			result = map[string]any{"error": fmt.Sprintf("oracle: panic: %v", r), "kind": "panic"}
		}
	}()
	return answer(line)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}
