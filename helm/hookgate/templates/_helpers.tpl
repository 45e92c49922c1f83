{{/* The chart name, or nameOverride. */}}
{{- define "hookgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every resource name: <release>-<chart>, or fullnameOverride. */}}
{{- define "hookgate.fullname" -}}
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

{{/* chart-version, for the helm.sh/chart label (never used in a selector). */}}
{{- define "hookgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "hookgate.labels" -}}
helm.sh/chart: {{ include "hookgate.chart" . }}
{{ include "hookgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hookgate
{{- end }}

{{/* Labels that select the release's pods; stable across upgrades. */}}
{{- define "hookgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hookgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component: include with (dict "root" $ "component" "ingress"). */}}
{{- define "hookgate.componentLabels" -}}
{{ include "hookgate.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Selector labels of one component. */}}
{{- define "hookgate.componentSelectorLabels" -}}
{{ include "hookgate.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The image reference; the tag defaults to the chart's appVersion. */}}
{{- define "hookgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The ServiceAccount name. */}}
{{- define "hookgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hookgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Where the config file is mounted in every container. */}}
{{- define "hookgate.configPath" -}}
/etc/hookgate/hookgate.yaml
{{- end }}

{{/* Environment variable holding secret j of source i (referenced from the config file). */}}
{{- define "hookgate.sourceSecretEnv" -}}
{{- printf "HOOKGATE_SOURCE_%d_SECRET_%d" (int .source) (int .secret) }}
{{- end }}

{{/* The ingress's graceful shutdown (uvicorn timeout_graceful_shutdown in ingress/server.py). */}}
{{- define "hookgate.ingressShutdownSeconds" -}}
15
{{- end }}

{{/* librdkafka security.protocol from the TLS and SASL switches. */}}
{{- define "hookgate.securityProtocol" -}}
{{- $k := .Values.kafka }}
{{- if and $k.tls.enabled $k.sasl.enabled }}SASL_SSL
{{- else if $k.tls.enabled }}SSL
{{- else if $k.sasl.enabled }}SASL_PLAINTEXT
{{- else }}PLAINTEXT
{{- end }}
{{- end }}

{{/* The Hookgate configuration file (schemas/config.py), rendered from the values. Secrets are
     {env: NAME} references; the bootstrap servers come from KAFKA_BOOTSTRAP_SERVERS. */}}
{{- define "hookgate.config" -}}
{{- $k := .Values.kafka }}
{{- $client := dict }}
{{- range $key, $value := $k.client }}
{{- $_ := set $client $key (toString $value) }}
{{- end }}
{{- if or $k.tls.enabled $k.sasl.enabled }}
{{- $_ := set $client "security.protocol" (include "hookgate.securityProtocol" .) }}
{{- end }}
{{- if $k.tls.enabled }}
{{- if $k.tls.caSecret.name }}
{{- $_ := set $client "ssl.ca.location" "/etc/hookgate/kafka-ca/ca.crt" }}
{{- end }}
{{- if $k.tls.clientCertSecret }}
{{- $_ := set $client "ssl.certificate.location" "/etc/hookgate/kafka-client/tls.crt" }}
{{- $_ := set $client "ssl.key.location" "/etc/hookgate/kafka-client/tls.key" }}
{{- end }}
{{- $_ := set $client "ssl.endpoint.identification.algorithm" (ternary "https" "none" $k.tls.verifyHostname) }}
{{- end }}
{{- if $k.sasl.enabled }}
{{- $_ := set $client "sasl.mechanism" $k.sasl.mechanism }}
{{- $_ := set $client "sasl.username" (dict "env" "KAFKA_SASL_USERNAME") }}
{{- $_ := set $client "sasl.password" (dict "env" "KAFKA_SASL_PASSWORD") }}
{{- end }}
{{- $topic := dict }}
{{- $sources := list }}
{{- range $i, $source := .Values.sources }}
{{- $refs := list }}
{{- range $j, $ref := (default (list) $source.secrets) }}
{{- $refs = append $refs (dict "env" (include "hookgate.sourceSecretEnv" (dict "source" $i "secret" $j))) }}
{{- end }}
{{- $entry := omit $source "secrets" }}
{{- if $refs }}
{{- $_ := set $entry "secrets" $refs }}
{{- end }}
{{- $sources = append $sources $entry }}
{{- end }}
{{- $config := dict
  "kafka" (dict "delivery_timeout_ms" $k.deliveryTimeoutMs "client" $client)
  "topics" (dict
    "raw" (include "hookgate.topicConfig" .Values.topics.raw | fromYaml)
    "canonical" (include "hookgate.topicConfig" .Values.topics.canonical | fromYaml)
    "dead_letter" (include "hookgate.topicConfig" .Values.topics.deadLetter | fromYaml))
  "ingress" (dict "host" "0.0.0.0" "port" .Values.ingress.port)
  "worker" (dict
    "app_id" .Values.worker.appId
    "dedup_horizon_s" .Values.worker.dedupHorizonSeconds
    "store" .Values.worker.store
    "web_port" .Values.worker.webPort
    "max_in_flight" .Values.worker.maxInFlight
    "type_prefix" .Values.worker.typePrefix
    "guarantee" .Values.worker.guarantee
    "commit_interval_ms" .Values.worker.commitIntervalMs
    "state_expiry_interval_s" .Values.worker.stateExpiryIntervalSeconds
    "stall_timeout_s" .Values.worker.stallTimeoutSeconds
    "standby_replicas" .Values.worker.standbyReplicas)
  "tracing" (include "hookgate.tracingConfig" .Values.tracing | fromYaml)
  "sources" $sources }}
{{- toYaml $config }}
{{- end }}

{{/* The config file's tracing section from its values (no endpoint key when it is empty). */}}
{{- define "hookgate.tracingConfig" -}}
{{- $tracing := dict "exporter" .exporter "service_name" .serviceName "sample_ratio" .sampleRatio }}
{{- if .endpoint }}
{{- $_ := set $tracing "endpoint" .endpoint }}
{{- end }}
{{- toYaml $tracing }}
{{- end }}

{{/* One topic of the config file from its values. */}}
{{- define "hookgate.topicConfig" -}}
{{- $config := dict }}
{{- range $key, $value := .config }}
{{- $_ := set $config $key (toString $value) }}
{{- end }}
{{- toYaml (dict "name" .name "partitions" .partitions "replication_factor" .replicationFactor "config" $config) }}
{{- end }}

{{/* Environment of every Hookgate container: config path, brokers, Kafka and source secrets. */}}
{{- define "hookgate.env" -}}
- name: HOOKGATE_CONFIG
  value: {{ include "hookgate.configPath" . }}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ .Values.kafka.bootstrapServers | quote }}
{{- if .Values.kafka.sasl.enabled }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.usernameKey }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.passwordKey }}
{{- end }}
{{- range $i, $source := .Values.sources }}
{{- range $j, $ref := (default (list) $source.secrets) }}
- name: {{ include "hookgate.sourceSecretEnv" (dict "source" $i "secret" $j) }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.existingSecret }}
      key: {{ $ref.key }}
{{- end }}
{{- end }}
{{- end }}

{{/* Volumes every Hookgate pod mounts: the config, /tmp, and the Kafka TLS material.
     Include with (dict "root" $ "configMap" NAME); configMap defaults to the release's. */}}
{{- define "hookgate.volumes" -}}
{{- $root := .root }}
{{- $tls := $root.Values.kafka.tls }}
- name: config
  configMap:
    name: {{ default (include "hookgate.fullname" $root) .configMap }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if and $tls.enabled $tls.caSecret.name }}
- name: kafka-ca
  secret:
    secretName: {{ $tls.caSecret.name }}
    items:
      - key: {{ $tls.caSecret.key }}
        path: ca.crt
{{- end }}
{{- if and $tls.enabled $tls.clientCertSecret }}
- name: kafka-client
  secret:
    secretName: {{ $tls.clientCertSecret }}
{{- end }}
{{- end }}

{{/* Mounts matching hookgate.volumes. */}}
{{- define "hookgate.volumeMounts" -}}
- name: config
  mountPath: /etc/hookgate/hookgate.yaml
  subPath: hookgate.yaml
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if and .Values.kafka.tls.enabled .Values.kafka.tls.caSecret.name }}
- name: kafka-ca
  mountPath: /etc/hookgate/kafka-ca
  readOnly: true
{{- end }}
{{- if and .Values.kafka.tls.enabled .Values.kafka.tls.clientCertSecret }}
- name: kafka-client
  mountPath: /etc/hookgate/kafka-client
  readOnly: true
{{- end }}
{{- end }}

{{/* Checks the schema cannot express; each failure names the value to set. */}}
{{- define "hookgate.validateValues" -}}
{{- $errors := list }}
{{- if not .Values.kafka.bootstrapServers }}
{{- $errors = append $errors "kafka.bootstrapServers is required: set it to your brokers, e.g. --set kafka.bootstrapServers=kafka-0.kafka:9092" }}
{{- end }}
{{- if and .Values.kafka.sasl.enabled (not .Values.kafka.sasl.existingSecret) }}
{{- $errors = append $errors "kafka.sasl.existingSecret is required with kafka.sasl.enabled: the name of a Secret with the SASL username and password" }}
{{- end }}
{{- $partitions := int .Values.topics.raw.partitions }}
{{- if and (not .Values.worker.keda.enabled) (gt (int .Values.worker.replicas) $partitions) }}
{{- $errors = append $errors (printf "worker.replicas (%d) is more than topics.raw.partitions (%d): the extra workers would get no partition; lower worker.replicas or raise topics.raw.partitions" (int .Values.worker.replicas) $partitions) }}
{{- end }}
{{- if and .Values.worker.keda.enabled (gt (int .Values.worker.keda.maxReplicaCount) $partitions) }}
{{- $errors = append $errors (printf "worker.keda.maxReplicaCount (%d) is more than topics.raw.partitions (%d): lower it to at most the partition count" (int .Values.worker.keda.maxReplicaCount) $partitions) }}
{{- end }}
{{- if and .Values.worker.keda.enabled (gt (int .Values.worker.keda.minReplicaCount) (int .Values.worker.keda.maxReplicaCount)) }}
{{- $errors = append $errors "worker.keda.minReplicaCount is more than worker.keda.maxReplicaCount" }}
{{- end }}
{{- if and .Values.ingress.autoscaling.enabled (gt (int .Values.ingress.autoscaling.minReplicas) (int .Values.ingress.autoscaling.maxReplicas)) }}
{{- $errors = append $errors "ingress.autoscaling.minReplicas is more than ingress.autoscaling.maxReplicas" }}
{{- end }}
{{- $needed := add (int .Values.ingress.drainSeconds) (int (include "hookgate.ingressShutdownSeconds" .)) }}
{{- if le (int .Values.ingress.terminationGracePeriodSeconds) $needed }}
{{- $errors = append $errors (printf "ingress.terminationGracePeriodSeconds (%d) must be more than ingress.drainSeconds + the ingress's 15 s graceful shutdown (%d), or in-flight deliveries are cut off: raise it" (int .Values.ingress.terminationGracePeriodSeconds) $needed) }}
{{- end }}
{{- $names := dict }}
{{- range $i, $source := .Values.sources }}
{{- if hasKey $names $source.name }}
{{- $errors = append $errors (printf "sources[%d].name: duplicate source name %q" $i $source.name) }}
{{- end }}
{{- $_ := set $names $source.name true }}
{{- end }}
{{- if and .Values.ingress.ingressResource.enabled (not .Values.ingress.ingressResource.hosts) }}
{{- $errors = append $errors "ingress.ingressResource.hosts is required with ingress.ingressResource.enabled: the host names senders use" }}
{{- end }}
{{- if $errors }}
{{- fail (printf "\n\nhookgate: invalid values:\n  - %s\n" (join "\n  - " $errors)) }}
{{- end }}
{{- end }}

{{/* imagePullSecrets of a pod spec, from names or {name: ...} entries. */}}
{{- define "hookgate.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets -}}
imagePullSecrets:
{{- range . }}
  - name: {{ if kindIs "string" . }}{{ . }}{{ else }}{{ .name }}{{ end }}
{{- end }}
{{- end }}
{{- end }}
