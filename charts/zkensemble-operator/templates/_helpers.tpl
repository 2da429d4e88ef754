{{/* Names and labels shared by every template. */}}

{{- define "zkensemble-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release name when it already contains the chart name, else <release>-<chart>; a DNS label. */}}
{{- define "zkensemble-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "zkensemble-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "zkensemble-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "zkensemble-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Stable across upgrades: the Deployment's selector cannot change. */}}
{{- define "zkensemble-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zkensemble-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "zkensemble-operator.labels" -}}
{{ include "zkensemble-operator.selectorLabels" . }}
app.kubernetes.io/part-of: zkensemble
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}
