// Command training-operator is the Kubeflow training operator v1 (github.com/kubeflow/training-operator,
// version pinned by this module's go.mod/go.sum) with an entry point for running it out of cluster
// on loopback, as podwarden's local control planes do (see src/podwarden/local/components.py).
//
// It registers the module's own reconcilers and validating webhooks exactly as the upstream
// cmd/training-operator.v1 does. Two things differ, both because upstream's main assumes it runs
// in a pod behind a Service:
//   - the webhook server binds --webhook-host (127.0.0.1) instead of every interface, with the
//     serving certificate from --webhook-cert-dir (podwarden's PKI) rather than a Secret rotated
//     in the cluster, so several control planes on one machine never share a port or a cert dir;
//   - the ValidatingWebhookConfiguration is applied by podwarden with url clientConfigs.
package main

import (
	"flag"
	"os"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	schedulerpluginsv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"
	"volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	kubeflowv1 "github.com/kubeflow/training-operator/pkg/apis/kubeflow.org/v1"
	controllerv1 "github.com/kubeflow/training-operator/pkg/controller.v1"
	"github.com/kubeflow/training-operator/pkg/controller.v1/common"
	"github.com/kubeflow/training-operator/pkg/webhooks"
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(kubeflowv1.AddToScheme(scheme))
	utilruntime.Must(v1beta1.AddToScheme(scheme))
	utilruntime.Must(schedulerpluginsv1alpha1.AddToScheme(scheme))
}

func main() {
	var metricsAddr, probeAddr, webhookHost, certDir string
	var webhookPort, controllerThreads int
	var enabledSchemes controllerv1.EnabledSchemes
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "The address the metric endpoint binds to (0: off).")
	flag.StringVar(&probeAddr, "health-probe-bind-address", "127.0.0.1:8081", "The address the probe endpoint binds to.")
	flag.StringVar(&webhookHost, "webhook-host", "127.0.0.1", "The address the webhook server binds to.")
	flag.IntVar(&webhookPort, "webhook-server-port", 9443, "Endpoint port for the webhook server.")
	flag.StringVar(&certDir, "webhook-cert-dir", "", "Directory with the webhook server's tls.crt and tls.key.")
	flag.IntVar(&controllerThreads, "controller-threads", 1, "Number of worker threads used by the controller.")
	flag.Var(&enabledSchemes, "enable-scheme", "Enable scheme(s) as --enable-scheme=tfjob --enable-scheme=pytorchjob.")
	opts := zap.Options{Development: true, StacktraceLevel: zapcore.DPanicLevel}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		WebhookServer:          webhook.NewServer(webhook.Options{Host: webhookHost, Port: webhookPort, CertDir: certDir}),
		HealthProbeBindAddress: probeAddr,
	})
	if err != nil {
		setupLog.Error(err, "unable to start manager")
		os.Exit(1)
	}
	if enabledSchemes.Empty() {
		enabledSchemes.FillAll()
	}
	setup := common.GenNonGangSchedulerSetupFunc()
	for _, s := range enabledSchemes {
		reconciler, ok := controllerv1.SupportedSchemeReconciler[s]
		hook, hookOk := webhooks.SupportedSchemeWebhook[s]
		if !ok || !hookOk {
			setupLog.Info("scheme is not supported", "scheme", s)
			os.Exit(1)
		}
		if err := reconciler(mgr, setup, controllerThreads); err != nil {
			setupLog.Error(err, "unable to create controller", "scheme", s)
			os.Exit(1)
		}
		if err := hook(mgr); err != nil {
			setupLog.Error(err, "unable to set up webhook", "scheme", s)
			os.Exit(1)
		}
	}
	// Ready once the webhook server listens: podwarden applies the webhook configuration then.
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", mgr.GetWebhookServer().StartedChecker()); err != nil {
		os.Exit(1)
	}
	setupLog.Info("starting manager", "schemes", enabledSchemes)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "problem running manager")
		os.Exit(1)
	}
}
