export * from "./identity";
export * from "./audit";
export * from "./system";
export * from "./registry";
export * from "./pipelines";
export * from "./serving";
export * from "./reviews";
export * from "./monitoring";
