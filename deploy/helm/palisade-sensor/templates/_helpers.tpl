{{/* The image reference: repository@digest when a digest is set, repository:tag otherwise. */}}
{{- define "palisade.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* Labels shared by every object; takes the component name. */}}
{{- define "palisade.labels" -}}
app.kubernetes.io/name: palisade-{{ .component }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: palisade
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ .root.Chart.Name }}-{{ .root.Chart.Version }}
{{- end -}}

{{/* Selector labels; takes the component name. */}}
{{- define "palisade.selector" -}}
app.kubernetes.io/name: palisade-{{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* The socket path from the node paths. */}}
{{- define "palisade.socketPath" -}}
{{ .Values.node.socketDir }}/{{ .Values.node.socketName }}
{{- end -}}
