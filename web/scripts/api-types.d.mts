export const documentPath: string;
export const typesPath: string;
export function generate(): Promise<string>;
