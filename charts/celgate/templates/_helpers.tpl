{{- define "celgate.name" -}}
{{- default "celgate" .Values.nameOverride | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "celgate.labels" -}}
app.kubernetes.io/name: {{ include "celgate.name" . }}
{{- end -}}

{{- define "celgate.selector" -}}
app.kubernetes.io/name: {{ include "celgate.name" . }}
{{- end -}}

{{- define "celgate.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "celgate.tlsSecret" -}}
{{ include "celgate.name" . }}-tls
{{- end -}}
