{{- define "eb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "eb.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "eb.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "eb.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "eb.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ include "eb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: envoy-bandit
{{- end -}}

{{- define "eb.selector" -}}
app.kubernetes.io/name: {{ include "eb.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "eb.image" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag -}}
{{- if .image.digest -}}{{ .image.repository }}@{{ .image.digest }}{{- else -}}{{ .image.repository }}:{{ $tag }}{{- end -}}
{{- end -}}

{{- define "eb.secretName" -}}
{{- default (printf "%s-secrets" (include "eb.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "eb.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "eb.fullname" .) .Values.serviceAccount.name }}{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "eb.aggregatorAddress" -}}
{{- if .Values.aggregator.externalAddress -}}{{ .Values.aggregator.externalAddress }}{{- else if .Values.aggregator.enabled -}}{{ include "eb.fullname" . }}-aggregator:50061{{- end -}}
{{- end -}}

{{- define "eb.gossipLabel" -}}
envoy-bandit.io/gossip: {{ include "eb.fullname" . }}
{{- end -}}

{{- /* Every arm's cluster must have a backend address. */ -}}
{{- define "eb.checkBackends" -}}
{{- range $i, $r := .Values.config.routes -}}
{{- range $j, $a := $r.arms -}}
{{- if not (hasKey $.Values.backends $a.cluster) -}}
{{- fail (printf "config.routes[%d].arms[%d].cluster: %q has no address in backends (add backends.%s: host:port)" $i $j $a.cluster $a.cluster) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "eb.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile: { type: RuntimeDefault }
{{- end -}}

{{- define "eb.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: { drop: ["ALL"] }
{{- end -}}

{{- /* A secret value: given in values, else the one already in the cluster, else random. */ -}}
{{- define "eb.secretValue" -}}
{{- if .given -}}{{ .given | b64enc }}{{- else if hasKey .old .key -}}{{ index .old .key }}{{- else -}}{{ randAlphaNum 48 | b64enc }}{{- end -}}
{{- end -}}

{{- /* The Envoy cluster of a route's default arm. */ -}}
{{- define "eb.defaultCluster" -}}
{{- $r := . -}}{{- $name := default (index $r.arms 0).name $r.default_arm -}}
{{- range $r.arms }}{{ if eq .name $name }}{{ .cluster }}{{ end }}{{ end -}}
{{- end -}}
