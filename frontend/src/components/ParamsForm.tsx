// The instrument-parameter form, generated from the instrument's parameters_schema
// by @rjsf (loaded on demand: most workflows never need it).
import Form from "@rjsf/core";
import type { RJSFSchema } from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";

export default function ParamsForm({
  schema,
  value,
  idPrefix,
  onChange,
}: {
  schema: Record<string, unknown>;
  value: Record<string, unknown>;
  idPrefix: string;
  onChange: (params: Record<string, unknown>) => void;
}) {
  return (
    <Form
      tagName="div"
      schema={schema as RJSFSchema}
      validator={validator}
      formData={value}
      idPrefix={idPrefix}
      liveValidate="onChange"
      showErrorList={false}
      noHtml5Validate
      uiSchema={{ "ui:submitButtonOptions": { norender: true } }}
      onChange={(e) => onChange((e.formData ?? {}) as Record<string, unknown>)}
    />
  );
}
