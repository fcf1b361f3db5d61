// The module's script scope as its compiled commands reach it. The rare work
// that is script (module/Private: the proxy modules of -Prefix, the
// catalogue's names, the compatibility module) is parsed on first need and
// runs there; so do the few commands a test may mock in the module's scope
// (Mock -ModuleName ExchangeMfa).
using System;
using System.Collections;
using System.Collections.ObjectModel;
using System.Management.Automation;

namespace ExchangeMfa
{
    public static class ModuleScope
    {
        private static SessionState Scope =>
            SharedState.InstanceScope ?? throw new InvalidOperationException("ExchangeMfa is not imported in this runspace.");

        // Whether module/Private is loaded in this runspace (ExchangeMfa.psm1).
        public static bool RuntimeLoaded => LanguagePrimitives.IsTrue(SharedState.InstanceValue("RuntimeLoaded"));

        // A variable of the module's scope ($script:Name).
        public static object Variable(string name) => SharedState.InstanceValue(name);

        // Calls a module function by name with named arguments, the runtime
        // loaded first; its output.
        public static Collection<PSObject> Call(string function, IDictionary arguments) =>
            Run("param($Name, $Arguments) Import-ExchangeMfaRuntime; & $Name @Arguments", function, arguments ?? new Hashtable());

        // Runs script in the module's scope; its output. Errors it throws
        // reach the caller as exceptions.
        public static Collection<PSObject> Run(string script, params object[] args)
        {
            SessionState scope = Scope;
            return scope.InvokeCommand.InvokeScript(scope, ScriptBlock.Create(script), args);
        }
    }
}
