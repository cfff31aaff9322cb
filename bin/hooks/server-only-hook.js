export async function resolve(specifier, context, nextResolve) {
  if (specifier === "server-only") {
    return { url: "data:text/javascript,export{}", shortCircuit: true, format: "module" };
  }
  return nextResolve(specifier, context);
}
