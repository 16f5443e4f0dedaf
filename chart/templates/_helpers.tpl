{{/*
Names and labels shared by every template (zero-to-jupyterhub style: one place decides).
*/}}

{{/* The chart name, overridable. */}}
{{- define "aideator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The object name prefix: <release>-aideator, or the release name if it holds "aideator". */}}
{{- define "aideator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "aideator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one component: include "aideator.selectorLabels" (list . "api") */}}
{{- define "aideator.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "aideator.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* All labels of one component's objects: include "aideator.labels" (list . "api") */}}
{{- define "aideator.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ include "aideator.chart" $root }}
{{ include "aideator.selectorLabels" . }}
app.kubernetes.io/part-of: aideator
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
{{- with $root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The namespace the agent Jobs run in (and the Role, quota, policy live in). */}}
{{- define "aideator.agentsNamespace" -}}
{{- default .Release.Namespace .Values.agents.namespace }}
{{- end }}

{{- define "aideator.serviceAccountName" -}}
{{- if .Values.api.serviceAccount.create }}
{{- default (include "aideator.fullname" .) .Values.api.serviceAccount.name }}
{{- else }}
{{- required "api.serviceAccount.name is required when api.serviceAccount.create is false" .Values.api.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, the tag defaulting to the chart's appVersion, or repository@digest when
the image names a digest (which then wins: a tag can move, a digest cannot):
include "aideator.image" (list . .Values.api.image) */}}
{{- define "aideator.image" -}}
{{- $root := index . 0 -}}
{{- $image := index . 1 -}}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default $root.Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret (release namespace) holding the model API key the API pods read. */}}
{{- define "aideator.anthropicSecretName" -}}
{{- default (printf "%s-anthropic" (include "aideator.fullname" .)) .Values.anthropic.existingSecret }}
{{- end }}

{{/* The Secret holding another engine's vendor key: (list . "openai") or (list . "gemini"). */}}
{{- define "aideator.vendorSecretName" -}}
{{- $root := index . 0 }}{{- $vendor := index . 1 }}
{{- default (printf "%s-%s" (include "aideator.fullname" $root) $vendor) (index $root.Values $vendor).existingSecret }}
{{- end }}

{{/* The URL agents reach the service's gateway at: the API Service, by its cluster name. */}}
{{- define "aideator.gatewayUrl" -}}
{{- printf "http://%s.%s.svc:%v" (include "aideator.fullname" .) .Release.Namespace .Values.api.service.port }}
{{- end }}

{{/* Pod Security Admission labels: enforce, audit and warn the restricted standard. */}}
{{- define "aideator.podSecurityLabels" -}}
pod-security.kubernetes.io/enforce: restricted
pod-security.kubernetes.io/enforce-version: latest
pod-security.kubernetes.io/audit: restricted
pod-security.kubernetes.io/audit-version: latest
pod-security.kubernetes.io/warn: restricted
pod-security.kubernetes.io/warn-version: latest
{{- end }}

{{/* The Secret (name) holding the database URL, or nothing when SQLite is used. */}}
{{- define "aideator.databaseSecretName" -}}
{{- if .Values.database.existingSecret.name }}
{{- .Values.database.existingSecret.name }}
{{- else if .Values.database.url }}
{{- printf "%s-database" (include "aideator.fullname" .) }}
{{- end }}
{{- end }}

{{- define "aideator.databaseSecretKey" -}}
{{- if .Values.database.existingSecret.name }}
{{- .Values.database.existingSecret.key }}
{{- else }}
{{- "url" }}
{{- end }}
{{- end }}

{{/* The Secret (name, key) holding the admin token, or nothing when there is none. */}}
{{- define "aideator.adminTokenSecretName" -}}
{{- $token := .Values.auth.adminToken }}
{{- if $token.existingSecret.name }}
{{- $token.existingSecret.name }}
{{- else if $token.value }}
{{- printf "%s-admin-token" (include "aideator.fullname" .) }}
{{- end }}
{{- end }}

{{- define "aideator.adminTokenSecretKey" -}}
{{- if .Values.auth.adminToken.existingSecret.name }}
{{- .Values.auth.adminToken.existingSecret.key }}
{{- else }}
{{- "token" }}
{{- end }}
{{- end }}

{{/* The Secret (name, key) holding the signing key: the one named in values, else the chart's. */}}
{{- define "aideator.signingKeySecretName" -}}
{{- default (printf "%s-signing-key" (include "aideator.fullname" .)) .Values.auth.signingKey.existingSecret.name }}
{{- end }}

{{- define "aideator.signingKeySecretKey" -}}
{{- if .Values.auth.signingKey.existingSecret.name }}
{{- .Values.auth.signingKey.existingSecret.key }}
{{- else }}
{{- "secret-key" }}
{{- end }}
{{- end }}

{{/* The Secret (name, key) holding the GitHub tokens' encryption key: the one named in
values, else the chart's. */}}
{{- define "aideator.encryptionKeySecretName" -}}
{{- default (printf "%s-encryption-key" (include "aideator.fullname" .)) .Values.github.encryptionKey.existingSecret.name }}
{{- end }}

{{- define "aideator.encryptionKeySecretKey" -}}
{{- if .Values.github.encryptionKey.existingSecret.name }}
{{- .Values.github.encryptionKey.existingSecret.key }}
{{- else }}
{{- "encryption-key" }}
{{- end }}
{{- end }}

{{/* Whether the service keeps its data in SQLite (no database URL of any kind). */}}
{{- define "aideator.usesSqlite" -}}
{{- if not (include "aideator.databaseSecretName" .) }}true{{ end }}
{{- end }}
