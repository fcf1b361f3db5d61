// The module's script, as its compiled commands reach it. The rare work that
// is script (module/Private: the proxy modules of -Prefix, the catalogue's
// names, typo suggestions, the compatibility module) is generated into one
// file by build.sh and parsed on first need, in each runspace, into a scope
// of its own: a dynamic module that no command list shows.
using System;
using System.Collections;
using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace ExchangeMfa
{
    public static class ModuleScope
    {
        private static SessionState Scope
        {
            get
            {
                SharedState.Instance instance = SharedState.ThisInstance ??
                    throw new InvalidOperationException("ExchangeMfa is not imported in this runspace.");
                if (instance.Runtime == null)
                {
                    // Linked to the global scope, as a script module's is.
                    var runtime = new PSModuleInfo(true);
                    ScriptBlock script = Parser.ParseFile(ModuleSetup.RuntimePath, out _, out ParseError[] errors).GetScriptBlock();
                    if (errors.Length > 0) throw new ParseException(errors);
                    // Dot-sourced into the module's scope: its functions and variables stay there.
                    runtime.SessionState.InvokeCommand.InvokeScript(runtime.SessionState, script);
                    instance.Runtime = runtime.SessionState;
                }
                return instance.Runtime;
            }
        }

        // Whether this runspace has loaded the runtime script.
        public static bool RuntimeLoaded => SharedState.ThisInstance?.Runtime != null;

        // A variable of the runtime's scope ($script:Name), or null when it is not loaded.
        public static object Variable(string name) => SharedState.ThisInstance?.Runtime?.PSVariable.GetValue(name);

        // Calls a runtime function by name with named arguments; its output.
        public static Collection<PSObject> Call(string function, IDictionary arguments) =>
            Run("param($Name, $Arguments) & $Name @Arguments", function, arguments ?? new Hashtable());

        // Runs script in the runtime's scope; its output. Errors it throws
        // reach the caller as exceptions.
        public static Collection<PSObject> Run(string script, params object[] args) => Invoke(ScriptBlock.Create(script), args);

        // The same for a script block (tests look inside the runtime this way).
        public static Collection<PSObject> Invoke(ScriptBlock script, params object[] args)
        {
            SessionState scope = Scope;
            return scope.InvokeCommand.InvokeScript(scope, scope.Module.NewBoundScriptBlock(script), args);
        }
    }
}
